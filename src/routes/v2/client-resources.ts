import { Router } from 'express';
import type { AppDeps } from '../../http/deps.js';
import { createAboutRouter } from './about.js';
import { createAccountTreeRouter } from './account-tree.js';
import { createAppsStoreRouter } from './apps-store.js';
import { createCallflowsRouter } from './callflows.js';
import { createConfigsRouter } from './configs.js';
import { createLimitsRouter } from './limits.js';
import { createPhoneNumbersRouter } from './phone-numbers.js';
import { createUserHotdesksRouter } from './user-hotdesks.js';
import { createWhitelabelRouters } from './whitelabel.js';

/**
 * The resources Kazoo's own clients (Monster UI, SmartPBX, kazoo-php-sdk) call on their way to the devices:
 * `top` is mounted at /v2, `account` at /v2/accounts/:accountId after scoping.
 */
export function createKazooClientRouters(deps: AppDeps): { top: Router; account: Router } {
  const whitelabel = createWhitelabelRouters(deps);
  const top = Router();
  top.use(createAboutRouter(), whitelabel.lookup);
  const account = Router({ mergeParams: true });
  account.use(
    createAppsStoreRouter(deps),
    createLimitsRouter(deps),
    createConfigsRouter(deps),
    createPhoneNumbersRouter(),
    createCallflowsRouter(),
    createAccountTreeRouter(deps),
    createUserHotdesksRouter(deps),
    whitelabel.account,
  );
  return { top, account };
}
