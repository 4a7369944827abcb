// One colour per meaning. Actions: green / amber / orange / red. Label roles: blues for
// legitimate labels, purples for campaign labels, greys for ignored ones; never an action colour.
export const ACTIONS = ['allow', 'tag', 'throttle', 'deny'];
export const ACTION_COLORS = ['#2f9e44', '#f59f00', '#e8590c', '#c92a2a'];
export const ROLE_COLORS = { legitimate: '#1971c2', campaign: '#7048e8', ignored: '#868e96' };
const SHADES = {
  legitimate: ['#1971c2', '#4dabf7', '#1864ab', '#74c0fc'],
  campaign: ['#7048e8', '#be4bdb', '#4c1d95', '#f06595', '#9c6644', '#b197fc', '#862e9c'],
  ignored: ['#868e96', '#adb5bd', '#495057'],
};

// A colour per label name, by role, shades in order within a role.
export function labelColors(names, roleOf) {
  const next = { legitimate: 0, campaign: 0, ignored: 0 };
  return names.map((n) => {
    const r = roleOf(n);
    const list = SHADES[r];
    return list[next[r]++ % list.length];
  });
}
