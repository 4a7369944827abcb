// Label roles: each label of a capture counts as legitimate traffic, a campaign, or is ignored.
// Defaults: legit / benign / normal / human / organic / good... are legitimate; the campaign names
// of the shipped scenarios (and of a simulated scenario), and labels starting with campaign /
// distill / attack, are campaigns; anything else (`poison`, `unknown`, unlabeled) is ignored.
// The user's choices are kept in localStorage.

export const ROLES = ['legitimate', 'campaign', 'ignored'];
export const UNLABELED = '(unlabeled)';
const LEGIT = /^(legit|benign|normal|human|organic|good|clean)/i;
const CAMPAIGN = /^(campaign|distill|attack)/i;

export class LabelRoles {
  constructor() {
    this.campaignNames = new Set();
    this.chosen = {};
    try { this.chosen = JSON.parse(localStorage.getItem('dg.roles') ?? '{}') ?? {}; } catch { /* storage off */ }
  }

  addCampaignNames(names) { for (const n of names) if (n) this.campaignNames.add(String(n)); }

  defaultRole(name) {
    if (name === UNLABELED) return 'ignored';
    if (LEGIT.test(name)) return 'legitimate';
    if (this.campaignNames.has(name) || CAMPAIGN.test(name)) return 'campaign';
    return 'ignored';
  }

  role(name) { return this.chosen[name] ?? this.defaultRole(name); }
  isDefault(name) { return !(name in this.chosen); }

  set(name, role) {
    if (role === this.defaultRole(name)) delete this.chosen[name]; else this.chosen[name] = role;
    try { localStorage.setItem('dg.roles', JSON.stringify(this.chosen)); } catch { /* storage off */ }
  }

  // Role code per label index of a result: 0 ignored, 1 legitimate, 2 campaign.
  kinds(labelNames) {
    return Uint8Array.from(labelNames, (n) => ({ ignored: 0, legitimate: 1, campaign: 2 })[this.role(n)]);
  }
}

// Campaign names of scenario JSON texts (`campaigns[].name`).
export function scenarioCampaigns(text) {
  try { return (JSON.parse(text).campaigns ?? []).map((c) => c?.name).filter(Boolean); } catch { return []; }
}
