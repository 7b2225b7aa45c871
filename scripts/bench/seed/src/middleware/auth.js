// auth.js: the design's authMiddleware, with Clerk's auth() played by jsonwebtoken.verify on the bench stack's own key.
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const jwt = require('jsonwebtoken');
const config = require('../config');

/*
 * Clerk verifies a session token locally against the instance's key; so
 * does this, with the key the C stack uses (the HS256 secret, or the
 * RS256 PEM or JWKS of VAR/secrets).  The same tokens pass both.
 */
function loadKeys() {
  const { alg, keyFile } = config.jwt;
  const text = fs.readFileSync(keyFile, 'utf8');
  /*
   * KeyObjects, made once: given a string or a Buffer, jsonwebtoken 9
   * first tries it as a public key on every call (half a millisecond of
   * a failed PEM parse per request here).
   */
  if (alg === 'HS256') return { any: crypto.createSecretKey(Buffer.from(text.replace(/[\n ]+$/, ''), 'utf8')) };
  if (text.trimStart().startsWith('{')) {
    const keys = {};
    for (const k of JSON.parse(text).keys) keys[k.kid || ''] = crypto.createPublicKey({ key: k, format: 'jwk' });
    return keys;
  }
  return { any: crypto.createPublicKey(text) };
}
const keys = loadKeys();

// { userId, orgId } of a valid token; throws otherwise.
function verifyToken(token) {
  if (!token) throw new Error('no token');
  const { alg, issuer, audience, leeway } = config.jwt;
  const header = jwt.decode(token, { complete: true })?.header;
  const key = keys.any || keys[header?.kid || ''];
  if (!key) throw new Error('unknown key');
  const claims = jwt.verify(token, key, {
    algorithms: [alg],
    clockTolerance: leeway,
    ...(issuer && { issuer }),
    ...(audience && { audience }),
  });
  // Clerk session tokens v2 carry the organisation in o.id, v1 in org_id.
  return { userId: claims.sub || null, orgId: claims.o?.id || claims.org_id || null };
}

// The token of a request: Authorization: Bearer, else Clerk's __session cookie.
function requestToken(req) {
  const h = req.headers.authorization;
  if (h && h.startsWith('Bearer ')) return h.slice(7);
  const m = /(?:^|;\s*)__session=([^;]*)/.exec(req.headers.cookie || '');
  return m ? decodeURIComponent(m[1]) : null;
}

function authMiddleware(req, res, next) {
  let session = { userId: null, orgId: null };
  try {
    session = verifyToken(requestToken(req));
  } catch {
    // auth() answers a signed-out session: no userId.
  }
  const { userId, orgId } = session;

  if (!userId) {
    return res.status(401).json({ error: 'Unauthorized' });
  }

  // Set tenant context for RLS
  if (orgId) {
    req.headers['x-tenant-id'] = orgId;
  }
  req.auth = session;
  next();
}

module.exports = { authMiddleware, verifyToken };
