/**
 * undici's connection Pool and its `request()`, loaded without the rest of undici's index.
 * `import 'undici'` loads every dispatcher, fetch, WebSocket, EventSource, cache and mock
 * modules: measured on this project's machine (Node 20, undici 7.30) 72 ms and +19 MB RSS at
 * start-up, against 26 ms and +11 MB for `lib/dispatcher/pool.js` with `lib/api` — in every
 * process that talks to OX (each `ox-batch run`, every CLI command with an OX request, the
 * daemon). These are the same modules undici's index re-exports (the same `Pool` class; the
 * test checks it), so a future undici that moves them fails that test instead of a user.
 * undici's index adds the request API to every dispatcher the same way (`Object.assign` onto
 * `Dispatcher.prototype`); doing it twice when the index is loaded too changes nothing.
 */
import { createRequire } from 'node:module';
import type { Dispatcher, Pool as UndiciPool } from 'undici';

const require = createRequire(import.meta.url);

export const Pool = require('undici/lib/dispatcher/pool.js') as typeof UndiciPool;
const DispatcherClass = require('undici/lib/dispatcher/dispatcher.js') as typeof Dispatcher;
Object.assign(DispatcherClass.prototype, require('undici/lib/api/index.js') as object);

export type Pool = UndiciPool;
