/**
 * Security settings for the web service's config schema (merged into it by services/web/main.ts).
 * PRINTBOX_ROLE_MAP: which PAM group gives which role, first match wins, e.g.
 * "printbox-admins:admin,printbox:operator". Accounts in none of the mapped groups get "viewer".
 */
import type { Field, Schema } from '../../shared/config.ts';
import { parseRoleMap, type RoleMapEntry } from './roles.ts';

export const DEFAULT_ROLE_MAP = 'printbox-admins:admin,printbox:operator';

export const securitySchema = {
  roleMap: {
    env: 'PRINTBOX_ROLE_MAP',
    default: parseRoleMap(DEFAULT_ROLE_MAP),
    describe: 'PAM group → role pairs, e.g. printbox-admins:admin,printbox:operator (first match wins; others are viewer)',
    parse: parseRoleMap,
  } satisfies Field<RoleMapEntry[]>,
} satisfies Schema;
