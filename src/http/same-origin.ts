/**
 * Same-origin proof for every request that changes something through the dashboard or the window
 * grid. HTTP Basic auth alone does not stop cross-site request forgery: a browser that has the
 * credentials cached sends them with a form or fetch from any other site. So a non-GET request
 * must also
 *  - carry the header `X-OXB-CSRF` with the deployment's token. Another site's page can neither
 *    read the token (it is inline in our HTML pages, never in a script or JSON a foreign page could
 *    include) nor set a custom header cross-origin without a CORS preflight, which we never grant;
 *  - when the browser says where it comes from, come from here: `Origin` (sent by browsers on every
 *    non-GET request) names this host, and `Sec-Fetch-Site` is `same-origin`.
 * The token is an HMAC of the configured user under the configured password: the same on every
 * replica behind a Service, different for every deployment, and worthless without the password.
 * A script (curl) reads the token from the `<meta name="oxb-csrf">` of any page it fetched with the
 * credentials, like the browser does; it sends no Origin or Sec-Fetch-Site, which is why those two
 * are checked only when present (a browser always sends Origin on a non-GET request).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';

export const SAME_ORIGIN_HEADER = 'x-oxb-csrf';
export const SAME_ORIGIN_META = 'oxb-csrf';
/** Served by the dashboard router (under /ui): patches fetch/XMLHttpRequest to send the header. */
export const SAME_ORIGIN_SCRIPT_PATH = '/oxb-same-origin.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function sameOriginToken(user: string, password: string): string {
  return createHmac('sha256', password).update(`ox-batch same-origin:${user}`).digest('base64url');
}

/** Why a changing request lacks same-origin proof; undefined when it has it. */
export function sameOriginProblem(req: Request, token: string): string | undefined {
  const given = req.headers[SAME_ORIGIN_HEADER];
  const value = Array.isArray(given) ? given[0] : given;
  if (!value) return `the ${SAME_ORIGIN_HEADER} header is missing`;
  const a = Buffer.from(value);
  const b = Buffer.from(token);
  if (a.length !== b.length || !timingSafeEqual(a, b)) return `the ${SAME_ORIGIN_HEADER} header is wrong`;
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') return `Sec-Fetch-Site is ${String(site)}, not same-origin`;
  const origin = req.headers.origin;
  if (origin !== undefined) {
    let host: string | undefined;
    try {
      host = new URL(origin).host;
    } catch {
      host = undefined;
    }
    if (!host || host !== req.headers.host) return `Origin ${origin} is not this host (${req.headers.host ?? 'no Host header'})`;
  }
  return undefined;
}

/** Refuses non-GET requests without same-origin proof (403, JSON), before anything is changed. */
export function requireSameOrigin(token: string) {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (SAFE_METHODS.has(req.method)) {
      next();
      return;
    }
    const problem = sameOriginProblem(req, token);
    if (!problem) {
      next();
      return;
    }
    res.status(403).json({
      error: `ox-batch: refused without same-origin proof (${problem}); changes are accepted only from the ox-batch pages themselves`,
    });
  };
}

/** The `<head>` additions of every HTML page: the token (inline) and the script that sends it. */
export function sameOriginHead(token: string, scriptUrl: string): string {
  return `<meta name="${SAME_ORIGIN_META}" content="${token}"><script src="${scriptUrl}"></script>`;
}

/** Adds `sameOriginHead` to HTML responses of the router it is used in (Bull Board's page). */
export function injectSameOriginHead(token: string, scriptUrl: string) {
  const head = sameOriginHead(token, scriptUrl);
  return (_req: Request, res: Response, next: NextFunction): void => {
    const send = res.send.bind(res);
    res.send = ((body?: unknown) => {
      if (typeof body === 'string' && /^\s*<!doctype html|<html/i.test(body) && body.includes('</head>')) {
        return send(body.replace('</head>', `${head}</head>`));
      }
      return send(body);
    }) as Response['send'];
    next();
  };
}

/** Browser side: every non-GET fetch / XMLHttpRequest of the page carries the token. */
export const SAME_ORIGIN_SCRIPT = `(function () {
  var meta = document.querySelector('meta[name="${SAME_ORIGIN_META}"]');
  if (!meta) return;
  var token = meta.getAttribute('content');
  var header = '${SAME_ORIGIN_HEADER}';
  var sameOrigin = function (url) { try { return new URL(url, location.href).origin === location.origin; } catch (e) { return false; } };
  var open = XMLHttpRequest.prototype.open;
  var send = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.open = function (method, url) { this.__oxb = String(method).toUpperCase() !== 'GET' && sameOrigin(url); return open.apply(this, arguments); };
  XMLHttpRequest.prototype.send = function () { if (this.__oxb) this.setRequestHeader(header, token); return send.apply(this, arguments); };
  var originalFetch = window.fetch;
  window.fetch = function (input, init) {
    var request = new Request(input, init);
    if (request.method !== 'GET' && request.method !== 'HEAD' && sameOrigin(request.url)) request.headers.set(header, token);
    return originalFetch.call(window, request);
  };
})();
`;
