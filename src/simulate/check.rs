//! Validation helpers for scenario documents: JSON shape against the serialized defaults
//! (unknown fields, wrong types, fractions where whole numbers belong), shares, enums and
//! client-stack mixes, every error recorded with its path. No defaults or ranges live here.

use crate::policy::json_type;
use std::collections::BTreeMap;

use serde_json::Value;

use crate::policy::Errors;

use super::clients;

/// Records an error unless `0 <= v <= 1`.
pub fn share(e: &mut Errors, path: &str, v: f64) {
    e.range(path, v, 0.0, 1.0);
}

/// Records an error unless `v` is one of `allowed`.
pub fn one_of(e: &mut Errors, path: &str, v: &str, allowed: &[&str]) {
    if !allowed.contains(&v) {
        e.push(path, format!("unknown value {v:?}; expected one of {}", allowed.join(", ")));
    }
}

/// Checks a client-stack mix: known stack ids, weights in range, at least one positive.
pub fn check_mix(e: &mut Errors, path: &str, mix: &BTreeMap<String, f64>) {
    for (k, v) in mix {
        if clients::stack_index(k).is_none() {
            e.push(format!("{path}.{k}"), format!("unknown client stack; expected one of {}", clients::STACK_IDS.join(", ")));
        }
        if !(0.0..=1e6).contains(v) {
            e.push(format!("{path}.{k}"), format!("weight must be 0..=1000000, got {v}"));
        }
    }
    if !mix.is_empty() && mix.values().all(|v| *v <= 0.0) {
        e.push(path, "at least one weight must be > 0");
    }
    if mix.is_empty() {
        e.push(path, "must name at least one client stack");
    }
}

/// Reports unknown fields and wrong JSON types against the serialized defaults.
pub fn check_shape(doc: &Value, schema: &Value, path: &str, errs: &mut Errors) {
    let join = |k: &str| if path.is_empty() { k.to_string() } else { format!("{path}.{k}") };
    match (doc, schema) {
        (Value::Object(d), Value::Object(s)) => {
            let is_map = path.ends_with("clients");
            for (k, v) in d {
                match s.get(k) {
                    Some(sv) => check_shape(v, sv, &join(k), errs),
                    None if is_map => {
                        if !v.is_number() {
                            errs.push(join(k), "must be a number");
                        }
                    }
                    None => {
                        let known: Vec<&str> = s.keys().map(String::as_str).collect();
                        errs.push(join(k), format!("unknown field; expected one of {}", known.join(", ")));
                    }
                }
            }
        }
        (Value::Array(d), Value::Array(s)) => {
            if let Some(item) = s.first() {
                for (i, v) in d.iter().enumerate() {
                    check_shape(v, item, &format!("{path}[{i}]"), errs);
                }
            }
        }
        (Value::Number(n), Value::Number(sn)) => {
            if sn.is_u64() && !n.is_u64() {
                errs.push(path, format!("must be a whole number >= 0, got {n}"));
            }
        }
        (Value::Bool(_), Value::Bool(_)) | (Value::String(_), Value::String(_)) => {}
        (d, s) => errs.push(path, format!("must be {}, got {}", json_type(s), json_type(d))),
    }
}

