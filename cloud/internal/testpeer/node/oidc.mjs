// An OAuth 2 / OpenID Connect authorization server for Go tests, built on
// the npm oidc-provider: authorization code + PKCE (S256, always required)
// with automatic login and consent, refresh tokens, and client_credentials
// with private_key_jwt (RS384 / ES384) for SMART Backend Services. Access
// tokens are JWTs for one resource (the FHIR base URL) carrying its scopes.
//
// Usage: node oidc.mjs CONFIG.json — written by package testpeer:
//   { "issuer", "port", "account", "resource", "resourceScopes": [],
//     "accessTokenTTL": seconds, "clients": [ oidc-provider client metadata ] }
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import Provider, { errors } from 'oidc-provider';

const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const key = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const signingKey = { ...key.export({ format: 'jwk' }), kid: 'testpeer-rs256', use: 'sig', alg: 'RS256' };

const provider = new Provider(cfg.issuer, {
  clients: cfg.clients,
  jwks: { keys: [signingKey] },
  cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
  findAccount: async (ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
  scopes: ['openid', 'offline_access', ...cfg.resourceScopes],
  pkce: { required: () => true },
  clientAuthMethods: ['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt'],
  enabledJWA: { clientAuthSigningAlgValues: ['RS256', 'RS384', 'ES256', 'ES384'] },
  ttl: { AccessToken: cfg.accessTokenTTL, ClientCredentials: cfg.accessTokenTTL },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  // oidc-provider refuses to fetch from special-use addresses (its SSRF
  // guard, via a fetch dispatcher); here everything, including a client's
  // jwks_uri, is on loopback, so fetch without that guard.
  fetch: (url, { dispatcher, ...options }) => globalThis.fetch(url, options),
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => cfg.resource,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, indicator) => {
        if (indicator !== cfg.resource) throw new errors.InvalidTarget();
        return {
          scope: cfg.resourceScopes.join(' '),
          audience: cfg.resource,
          accessTokenTTL: cfg.accessTokenTTL,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
});

// Log errors without request details: tests read the log tail on failure.
provider.on('server_error', (ctx, err) => console.error('server_error', err));
provider.on('grant.error', (ctx, err) => console.error('grant.error', err.error, err.error_description, err.error_detail || ''));

// The interaction: sign the configured account in and grant everything the
// client asked for, like a user clicking "Allow".
async function interact(req, res) {
  const details = await provider.interactionDetails(req, res);
  let result;
  if (details.prompt.name === 'login') {
    result = { login: { accountId: cfg.account } };
  } else {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
    const missing = details.prompt.details;
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes || {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    result = { consent: { grantId: await grant.save() } };
  }
  await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: true });
}

const callback = provider.callback();
const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/health') {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
  } else if (req.method === 'GET' && req.url.startsWith('/interaction/')) {
    interact(req, res).catch((err) => {
      console.error('interaction', err);
      res.writeHead(500).end('interaction failed');
    });
  } else {
    callback(req, res);
  }
});
server.listen(cfg.port, '127.0.0.1', () => console.log(`oidc peer listening on ${cfg.issuer}`));
