/**
 * /advertisement/v1/config/{user|name|package|reseller}. Status codes carry the outcome
 * (PUT 201 created / 200 updated, DELETE 204 deleted / 200 nothing); a missing or bad parameter
 * or body is 400 with an empty body; server failures are 500 with an EMPTY body, the message
 * only in the reason phrase.
 */
import { isSimulatedFailure, nameOrDefault, SimulatedAdFailure, type AdvertisementStore } from './advertisement-store.js';
import type { Exchange } from './http-exchange.js';

const CONFIG_PATH = /^\/advertisement\/v1\/config\/(user|name|package|reseller)$/;
const LONG = /^[+-]?\d{1,19}$/;

type Params = Record<string, string>;

export async function handleAdvertisement(ex: Exchange, path: string, ads: AdvertisementStore): Promise<void> {
  const m = CONFIG_PATH.exec(path);
  if (!m) return ex.empty(404);
  const target = m[1] as 'user' | 'name' | 'package' | 'reseller';
  const allowed = target === 'reseller' ? ['PUT'] : ['PUT', 'DELETE'];
  if (!allowed.includes(ex.method)) return ex.empty(405, { Allow: allowed.join(', ') });

  const required = { user: ['contextId', 'userId'], name: ['contextId', 'name'], package: ['reseller', 'package'], reseller: ['reseller'] }[
    target
  ];
  const params: Params = {};
  for (const name of required) {
    const value = ex.query.get(name);
    if (value === null) return ex.empty(400, {}, `Missing parameter ${name}`);
    if ((name === 'contextId' || name === 'userId') && !LONG.test(value)) return ex.empty(400, {}, `Invalid parameter ${name}`);
    if (name === 'name' && value === '') return ex.empty(400, {}, 'Missing parameter name');
    params[name] = value;
  }

  let config: unknown;
  if (ex.method === 'PUT') {
    const body = await ex.readBody();
    try {
      config = JSON.parse(body);
    } catch {
      return ex.empty(400, {}, 'Invalid JSON body');
    }
  }

  try {
    if (target === 'reseller') return putReseller(ex, ads, params.reseller!, config);
    if (ex.method === 'PUT' && isSimulatedFailure(config)) throw new SimulatedAdFailure('Simulated advertisement failure');
    switch (target) {
      case 'user':
      case 'name': {
        const contextId = Number(params.contextId);
        const userId = target === 'user' ? Number(params.userId) : ads.resolveLogin(contextId, params.name!);
        if (ex.method === 'PUT') return answerPut(ex, ads.putUser(contextId, userId, config));
        return answerDelete(ex, ads.deleteUser(contextId, userId));
      }
      case 'package':
        if (ex.method === 'PUT') return answerPut(ex, ads.putPackage(params.reseller!, params.package!, config));
        return answerDelete(ex, ads.deletePackage(params.reseller!, params.package!));
    }
  } catch (err) {
    if (err instanceof SimulatedAdFailure) return ex.empty(500, {}, err.message);
    throw err;
  }
}

function putReseller(ex: Exchange, ads: AdvertisementStore, reseller: string, body: unknown): void {
  if (!Array.isArray(body)) return ex.empty(400);
  const entries: Array<{ package: string; config: unknown }> = [];
  for (const item of body) {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) return ex.empty(400);
    const pkg = (item as Record<string, unknown>).package;
    if (typeof pkg !== 'string') return ex.empty(400);
    entries.push({ package: pkg, config: (item as Record<string, unknown>).config ?? null });
  }
  ex.json(200, ads.putReseller(nameOrDefault(reseller), entries));
}

function answerPut(ex: Exchange, outcome: 'created' | 'updated'): void {
  ex.empty(outcome === 'created' ? 201 : 200);
}

function answerDelete(ex: Exchange, outcome: 'deleted' | 'nothing'): void {
  ex.empty(outcome === 'deleted' ? 204 : 200);
}
