// A second, independent tenant for the browser tests: panva's oidc-provider (OpenID Certified),
// from npm like the other test tools, never shipped. Its routes are its own (/auth, /token,
// /me, /jwks, /session/end), as are its login and consent pages. The SPA must log in and out
// here with the code it uses against the development tenant.
//
//   node oidc_provider.mjs <oidc-provider's folder> <the app's origin>
//
// It listens on 127.0.0.1, port 0, and prints `issuer=http://localhost:{port}` once it does.
// Accounts: any login works on its development login page; `reader` gets the API's
// `read:messages` (as a `permissions` claim, as Auth0's RBAC does), anyone else does not.

import http from 'node:http';
import { generateKeyPairSync } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import path from 'node:path';

const [packageDir, appOrigin] = process.argv.slice(2);
const { default: Provider } = await import(
  pathToFileURL(path.join(packageDir, 'node_modules/oidc-provider/lib/index.js')).href
);

const API = 'https://quickstarts/api';
const CLIENT_ID = 'quickstart-spa';

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), use: 'sig', alg: 'RS256', kid: 'op-key-1' };

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://localhost:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: CLIENT_ID,
    token_endpoint_auth_method: 'none',
    application_type: 'web',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: [`${appOrigin}/callback`],
    post_logout_redirect_uris: [`${appOrigin}/`],
  }],
  jwks: { keys: [signingKey] },
  pkce: { required: () => true },
  scopes: ['openid', 'profile', 'offline_access'],
  claims: { openid: ['sub'], profile: ['name', 'nickname'] },
  findAccount: async (ctx, id) => ({
    accountId: id,
    claims: async () => ({ sub: id, name: `${id[0].toUpperCase()}${id.slice(1)} at the OpenID provider`, nickname: id }),
  }),
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    webMessageResponseMode: { enabled: true, ack: 'individual-draft-01' },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => API,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, resource) => {
        if (resource !== API) throw new Error(`unknown resource ${resource}`);
        return { scope: '', audience: API, accessTokenTTL: 600, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } };
      },
    },
  },
  // Auth0's RBAC, as the API reads it: the permission is a claim of the access token.
  extraTokenClaims: async (ctx, token) =>
    token.kind === 'AccessToken' && token.accountId === 'reader' ? { permissions: ['read:messages'] } : undefined,
  // Refresh tokens for the SPA, rotated at every use. OpenID Core §11 lets a provider drop
  // offline_access unless the login asked for prompt=consent (oidc-provider does), "unless
  // other conditions permitting offline access are in place": here, the client's own
  // refresh_token grant, as providers are set up for SPAs with rotation.
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: () => true,
  // Browsers may call the token and userinfo endpoints from the app's origin only.
  clientBasedCORS: (ctx, origin) => origin === appOrigin,
  ttl: { Session: 3600, Grant: 3600, RefreshToken: 3600, IdToken: 600, AuthorizationCode: 60, Interaction: 600 },
  cookies: { keys: ['oidc-provider test cookie key'] },
  renderError: async (ctx, out) => {
    ctx.type = 'html';
    ctx.body = `<h1 id="provider-error">${out.error}</h1><p>${out.error_description}</p>`;
  },
});
// Plain http on localhost: a test, never a deployment.
provider.proxy = false;
server.on('request', provider.callback());
console.log(`issuer=${issuer}`);
