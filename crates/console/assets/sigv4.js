// AWS Signature Version 4 in the browser, on WebCrypto (crypto.subtle; http://127.0.0.1 and
// http://localhost are secure contexts, so it is there). The console signs every request with it
// when the server runs with `--auth sigv4`: Kinesis and the admin endpoints as service `kinesis`,
// CloudWatch as `monitoring`, DynamoDB (the leases panel) as `dynamodb`.
//
// Only what the console sends is covered: a method, a URL with an optional query, a few headers
// and a string body. The signed headers are host, x-amz-date, every x-amz-* header given, and
// content-type — the set botocore signs for these JSON protocols.

const encoder = new TextEncoder();

function hex(buffer) {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Hex SHA-256 of a string or bytes. */
export async function sha256Hex(data) {
  const bytes = typeof data === 'string' ? encoder.encode(data) : data;
  return hex(await crypto.subtle.digest('SHA-256', bytes));
}

async function hmac(key, data) {
  const raw = typeof key === 'string' ? encoder.encode(key) : key;
  const k = await crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return new Uint8Array(await crypto.subtle.sign('HMAC', k, encoder.encode(data)));
}

/** The signing key of a secret for one day, region and service. */
export async function signingKey(secret, date, region, service) {
  const kDate = await hmac(`AWS4${secret}`, date);
  const kRegion = await hmac(kDate, region);
  const kService = await hmac(kRegion, service);
  return hmac(kService, 'aws4_request');
}

// RFC 3986 unreserved characters stay, everything else is %XX (upper case), as SigV4 wants.
function uriEncode(s, keepSlash) {
  let out = '';
  for (const byte of encoder.encode(s)) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-._~]/.test(c) || (keepSlash && c === '/')) out += c;
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function canonicalPath(pathname) {
  // Services other than S3 encode each (already decoded) segment once more.
  const segments = pathname.split('/').map((seg) => uriEncode(uriEncode(decodeURIComponent(seg), false), false));
  const path = segments.join('/');
  return path === '' ? '/' : path;
}

function canonicalQuery(searchParams) {
  const pairs = [];
  for (const [k, v] of searchParams) pairs.push([uriEncode(k, false), uriEncode(v, false)]);
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

/** `20240102T030405Z` for a Date. */
export function amzDate(now) {
  return now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

/**
 * Signs a request. Returns the headers to send: the given ones plus X-Amz-Date, Authorization
 * and X-Amz-Security-Token (when a session token is given). `host` is signed but not returned:
 * the browser sets it itself (from the URL), which is what the signature must cover.
 *
 * @param {object} req { method, url, headers, body }
 * @param {object} creds { accessKeyId, secretAccessKey, sessionToken?, region, service }
 * @param {Date} [now]
 */
export async function signRequest(req, creds, now = new Date()) {
  const url = new URL(req.url);
  const date = amzDate(now);
  const day = date.slice(0, 8);
  const headers = {};
  for (const [k, v] of Object.entries(req.headers || {})) headers[k] = v;
  headers['X-Amz-Date'] = date;
  if (creds.sessionToken) headers['X-Amz-Security-Token'] = creds.sessionToken;

  const toSign = { host: url.host };
  for (const [k, v] of Object.entries(headers)) {
    const lower = k.toLowerCase();
    if (lower === 'content-type' || lower.startsWith('x-amz-')) toSign[lower] = String(v).trim().replace(/\s+/g, ' ');
  }
  const names = Object.keys(toSign).sort();
  const canonicalHeaders = names.map((n) => `${n}:${toSign[n]}\n`).join('');
  const signedHeaders = names.join(';');
  const payloadHash = await sha256Hex(req.body ?? '');
  const canonicalRequest = [
    (req.method || 'GET').toUpperCase(),
    canonicalPath(url.pathname),
    canonicalQuery(url.searchParams),
    canonicalHeaders,
    signedHeaders,
    payloadHash,
  ].join('\n');
  const scope = `${day}/${creds.region}/${creds.service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', date, scope, await sha256Hex(canonicalRequest)].join('\n');
  const key = await signingKey(creds.secretAccessKey, day, creds.region, creds.service);
  const signature = hex(await hmac(key, stringToSign));
  headers.Authorization =
    `AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
  return { headers, canonicalRequest, stringToSign, signature };
}
