// A real OpenID Connect provider for Pulse's single sign-on tests: panva's certified `oidc-provider`,
// configured for one confidential client (Pulse) and the accounts a test names. Started by
// tests/browser/test_sso.py on a free port; prints one line `listening <port>` when it accepts requests.
//
// Environment:
//   PULSE_CALLBACK       Pulse's redirect URI (…/login/sso/callback/), the only one allowed
//   PULSE_AFTER_LOGOUT   where the provider may send the browser after signing out (Pulse's /login/)
//   OIDC_CLIENT_ID, OIDC_CLIENT_SECRET
//   OIDC_ACCOUNTS        JSON: {"<login>": {"email": "...", "email_verified": true}, ...}; the login form
//                        (devInteractions) takes the login name and any password
//
// Faults, for the tests of Pulse's checks: `POST /_fault` with the body `wrong_audience` or `expired` makes
// the provider's next token response carry an ID token it signed with its own key (the one its JWKS
// publishes) after giving it another audience, or an issue and expiry time an hour in the past. So the
// token Pulse receives is validly signed by the real provider and only the claim under test is wrong.

import http from 'node:http';

import { SignJWT, decodeJwt, exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';

const clientId = process.env.OIDC_CLIENT_ID || 'pulse';
const clientSecret = process.env.OIDC_CLIENT_SECRET || 'pulse-test-secret';
const accounts = JSON.parse(process.env.OIDC_ACCOUNTS || '{}');
const kid = 'pulse-test-key';

const { privateKey } = await generateKeyPair('RS256', { extractable: true });
const signingKey = { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };

const server = http.createServer();
await new Promise((resolve) => { server.listen(0, '127.0.0.1', resolve); });
const { port } = server.address();
const issuer = `http://127.0.0.1:${port}`;

const page = (title, body) => `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${title}</title></head>`
  + `<body><h1>${title}</h1>${body}</body></html>`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    client_name: 'Pulse',
    redirect_uris: [process.env.PULSE_CALLBACK],
    post_logout_redirect_uris: [process.env.PULSE_AFTER_LOGOUT],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks: { keys: [signingKey] },
  cookies: { keys: ['pulse-test-cookie-key-not-secret'] },
  claims: { openid: ['sub'], email: ['email', 'email_verified'] },
  // PKCE is required of every client here, so a sign-in without it fails at this provider.
  pkce: { required: () => true },
  ttl: {
    AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Session: 3600, Grant: 3600,
  },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: {
      enabled: true,
      async logoutSource(ctx, form) {
        ctx.body = page('Sign out of the test provider?', `${form}`
          + '<button type="submit" form="op.logoutForm" value="yes" name="logout" id="logout-yes">Yes, sign me out</button>');
      },
      async postLogoutSuccessSource(ctx) {
        ctx.body = page('Signed out', '<p>You are signed out of the test provider.</p>');
      },
    },
  },
  // Pulse is this provider's first-party client: the grant is given without a consent screen.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid email');
    await grant.save();
    return grant;
  },
  async findAccount(ctx, id) {
    if (!Object.hasOwn(accounts, id)) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...accounts[id] }; } };
  },
  async renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = page('Provider error', `<pre id="provider-error">${JSON.stringify(out)}</pre>`);
  },
});

let fault = '';
provider.use(async (ctx, next) => {
  await next();
  if (ctx.path !== '/token' || !fault || !ctx.body || typeof ctx.body.id_token !== 'string') return;
  const claims = decodeJwt(ctx.body.id_token);
  const now = Math.floor(Date.now() / 1000);
  if (fault === 'wrong_audience') claims.aud = 'another-application';
  if (fault === 'expired') Object.assign(claims, { iat: now - 7200, auth_time: now - 7200, exp: now - 3600 });
  ctx.body.id_token = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid }).sign(privateKey);
  fault = '';
});

const callback = provider.callback();
server.on('request', (req, res) => {
  if (req.method === 'POST' && req.url === '/_fault') {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => {
      fault = ['wrong_audience', 'expired'].includes(body.trim()) ? body.trim() : '';
      res.writeHead(fault ? 204 : 400).end();
    });
    return;
  }
  callback(req, res);
});

process.on('SIGTERM', () => { server.close(); process.exit(0); });
console.log(`listening ${port}`);
