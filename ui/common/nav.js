// One navigation on every staff page: who is signed in (name, role, jurisdiction), the pages
// their role may open, the language, and sign-out. A page the role cannot use says so once
// and links to the right page, instead of filling with refusals.
//
//   const me = await mountNav('desk');   // null: not signed in (the sign-in form is up) or wrong role
//   if (!me) return;                     // the page stops here: nothing else is fetched
//
// `me` is /api/auth/me's answer: {user, role, jurisdiction, worker_id, ...}.
// (Minimal version; issue 17's navigation helper completes it.)

import { api } from './live.js';
import { showLogin } from './login.js';

export const PAGES = [
  { key: 'wall', href: '/wall', roles: ['officer', 'admin', 'emergency'] },
  { key: 'desk', href: '/desk', roles: ['officer', 'admin'] },
  { key: 'emergency', href: '/emergency', roles: ['officer', 'emergency', 'admin'] },
  { key: 'terminal', href: '/terminal', roles: ['worker'] },
  { key: 'admin', href: '/admin', roles: ['admin'] },
];

export async function mountNav(pageKey) {
  let me;
  try {
    me = await api('/api/auth/me');
  } catch (err) {
    if (err.status === 401) showLogin({});
    return null;
  }
  const page = PAGES.find((p) => p.key === pageKey);
  if (page && !page.roles.includes(me.role)) return null;
  return me;
}
