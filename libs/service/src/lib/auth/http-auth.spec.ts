import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Body, Controller, Get, type INestApplication, Module, Param, Post } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { parseEnv } from '@tributary/config';
import { authConfigIssues, authEnv, type AuthConfig } from './auth-env';
import { Authenticator } from './authenticator';
import { frontDoorProviders } from './front-door';
import { DEFAULT_JSON_LIMITS } from './json-limits';
import { Authenticated, RequireScope } from './scope.guard';
import { SecurityLog } from './security-log';
import { PublicServerError } from './server-errors.filter';

const OPS_KEY = 'ops-key-0123456789abcdef';
const FEED_KEY = 'feed-key-0123456789abcdef';
const DESK_KEY = 'desk-key-0123456789abcdef';
const ISSUER = 'https://idp.example.test/realms/trading';
const AUDIENCE = 'tributary';

@Controller()
class ProbeController {
  @Get('health/live')
  live() {
    return { status: 'ok' };
  }

  @Get('status')
  @Authenticated()
  status() {
    return { ok: true };
  }

  @Get('streams/:stream')
  @RequireScope((request) => `read:${request.params?.['stream'] ?? ''}`)
  read(@Param('stream') stream: string) {
    return { stream };
  }

  @Post('rules')
  @RequireScope('admin')
  create(@Body() body: unknown) {
    return { received: body };
  }

  @Post('undecorated')
  undecorated() {
    return { ran: true };
  }

  @Get('crash')
  @Authenticated()
  crash(): never {
    throw new Error('connect ECONNREFUSED 10.1.2.3:5432 (user tributary_cdc)');
  }

  @Get('busy')
  @Authenticated()
  busy(): never {
    throw new PublicServerError(
      { statusCode: 503, message: 'nothing was sent: resend with the same idempotency keys' },
      503,
    );
  }
}

async function startApp(config: AuthConfig): Promise<{ app: INestApplication; base: string }> {
  @Module({
    controllers: [ProbeController],
    providers: frontDoorProviders(config, {
      rawBodyPaths: [],
      maxJsonBodyBytes: 4096,
      jsonLimits: DEFAULT_JSON_LIMITS,
    }),
  })
  class ProbeModule {}
  const app = await NestFactory.create(ProbeModule, { logger: false });
  await app.listen(0, '127.0.0.1');
  return { app, base: (await app.getUrl()).replace('[::1]', '127.0.0.1') };
}

function configOf(env: Record<string, string>): AuthConfig {
  return parseEnv(authEnv, env);
}

const bearer = (credential: string) => ({ authorization: `Bearer ${credential}` });

describe('authentication and scopes of a service API', () => {
  let app: INestApplication;
  let base: string;

  beforeAll(async () => {
    ({ app, base } = await startApp(
      configOf({
        AUTH_API_KEYS: `ops:${OPS_KEY}:admin|read:>,feed:${FEED_KEY}:produce:market.*,desk:${DESK_KEY}:read:market.*`,
      }),
    ));
  });

  afterAll(async () => {
    await app.close();
  });

  it('answers health and metrics paths without a credential, and everything else 401 with a Bearer challenge', async () => {
    expect((await fetch(`${base}/health/live`)).status).toBe(200);
    const refused = await fetch(`${base}/status`);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toBe('Bearer');
    expect(await refused.json()).toMatchObject({
      message: expect.stringMatching(/a credential is required/),
    });
    expect((await fetch(`${base}/no/such/route`)).status).toBe(401);
  });

  it('refuses an unknown key with 401 and a key without the route scope with 403 naming holder and scope', async () => {
    expect((await fetch(`${base}/status`, { headers: bearer('not-a-known-key-at-all') })).status).toBe(401);
    const forbidden = await fetch(`${base}/streams/market.trades.validated`, {
      headers: { 'x-api-key': DESK_KEY },
    });
    expect(forbidden.status).toBe(403);
    expect(await forbidden.json()).toMatchObject({
      message: 'desk lacks the scope read:market.trades.validated',
    });
    const allowed = await fetch(`${base}/streams/market.trades`, { headers: { 'x-api-key': DESK_KEY } });
    expect(allowed.status).toBe(200);
    expect(await allowed.json()).toEqual({ stream: 'market.trades' });
  });

  it('closes a route that carries no scope decorator to everyone but admin', async () => {
    expect((await fetch(`${base}/undecorated`, { method: 'POST', headers: bearer(FEED_KEY) })).status).toBe(
      403,
    );
    expect((await fetch(`${base}/undecorated`, { method: 'POST', headers: bearer(OPS_KEY) })).status).toBe(
      201,
    );
  });

  it('answers 401 without reading the body of an unauthenticated request', async () => {
    // A 10 MB body is announced and only its first bytes are sent: the answer comes anyway.
    const status = await new Promise<number>((resolve, reject) => {
      const url = new URL(`${base}/rules`);
      const req = httpRequest(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: 'POST',
          headers: { 'content-type': 'application/json', 'content-length': String(10 * 1024 * 1024) },
        },
        (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
          req.destroy();
        },
      );
      req.on('error', (error) =>
        error.message.includes('socket hang up') || error.message.includes('EPIPE')
          ? undefined
          : reject(error),
      );
      req.write('{"id":"');
    });
    expect(status).toBe(401);
  });

  it('writes each admin action to the security log with who, what and the answer, and each refusal too', async () => {
    const records = jest.spyOn(app.get(SecurityLog), 'record');
    const created = await fetch(`${base}/rules`, {
      method: 'POST',
      headers: { ...bearer(OPS_KEY), 'content-type': 'application/json' },
      body: '{"id":"r1"}',
    });
    expect(created.status).toBe(201);
    await fetch(`${base}/rules`, {
      method: 'POST',
      headers: { ...bearer(FEED_KEY), 'content-type': 'application/json' },
      body: '{}',
    });
    expect(records).toHaveBeenCalledWith({
      event: 'admin-action',
      principal: 'ops',
      via: 'api-key',
      method: 'POST',
      path: '/rules',
      status: 201,
    });
    expect(records).toHaveBeenCalledWith(
      expect.objectContaining({
        event: 'refused',
        principal: 'feed',
        path: '/rules',
        status: 403,
        reason: 'lacks admin',
      }),
    );
  });

  describe('bodies', () => {
    const post = (body: string, type = 'application/json') =>
      fetch(`${base}/rules`, { method: 'POST', headers: { ...bearer(OPS_KEY), 'content-type': type }, body });

    it('refuses JSON nested 1,500 levels deep with 400 naming the limit, not a 500', async () => {
      const response = await post(`${'['.repeat(1500)}${']'.repeat(1500)}`);
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({
        message: expect.stringMatching(/nests deeper than 32 levels/),
      });
    });

    it('names a number beyond the double range instead of passing Infinity on', async () => {
      const response = await post('{"price":1e400}');
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({
        message: expect.stringMatching(/too large to represent/),
      });
    });

    it('answers 413 naming the byte limit, 415 for a body that is not JSON, and 400 for broken JSON', async () => {
      const big = await post(JSON.stringify({ text: 'x'.repeat(5000) }));
      expect(big.status).toBe(413);
      expect(await big.json()).toMatchObject({ message: 'the body is larger than 4096 bytes' });
      expect((await post('id: r1', 'application/yaml')).status).toBe(415);
      expect((await post('{"id":')).status).toBe(400);
    });

    it('hands a body within the limits to the handler', async () => {
      const response = await post('{"id":"r2","legs":[{"side":"buy"}]}');
      expect(await response.json()).toEqual({ received: { id: 'r2', legs: [{ side: 'buy' }] } });
    });
  });

  it('answers an unexpected failure with a generic 500 body: the driver message stays in the log', async () => {
    const response = await fetch(`${base}/crash`, { headers: bearer(OPS_KEY) });
    expect(response.status).toBe(500);
    const text = await response.text();
    expect(text).not.toMatch(/10\.1\.2\.3|ECONNREFUSED|tributary_cdc/);
    expect(JSON.parse(text)).toEqual({
      statusCode: 500,
      error: 'Internal Server Error',
      message: 'internal error; the details are in the service log',
    });
  });

  it('passes on a 5xx the service worded for its callers', async () => {
    const response = await fetch(`${base}/busy`, { headers: bearer(OPS_KEY) });
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({
      statusCode: 503,
      message: 'nothing was sent: resend with the same idempotency keys',
    });
  });
});

describe('OIDC bearer tokens', () => {
  let jwks: Server;
  let app: INestApplication;
  let base: string;
  let sign: (
    claims: Record<string, unknown>,
    options?: { audience?: string; expiresIn?: string | number },
  ) => Promise<string>;

  beforeAll(async () => {
    const { privateKey, publicKey } = await generateKeyPair('RS256');
    const jwk: JWK = { ...(await exportJWK(publicKey)), kid: 'key-1', alg: 'RS256', use: 'sig' };
    jwks = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    const port = (jwks.address() as AddressInfo).port;
    sign = (claims, options = {}) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: 'key-1' })
        .setIssuer(ISSUER)
        .setAudience(options.audience ?? AUDIENCE)
        .setSubject('quant-42')
        .setIssuedAt()
        .setExpirationTime(options.expiresIn ?? '5m')
        .sign(privateKey);
    ({ app, base } = await startApp(
      configOf({
        AUTH_JWKS_URL: `http://127.0.0.1:${port}/certs`,
        AUTH_JWT_ISSUER: ISSUER,
        AUTH_JWT_AUDIENCE: AUDIENCE,
        AUTH_JWT_SCOPE_CLAIM: 'tributary_scopes',
      }),
    ));
  });

  afterAll(async () => {
    await app.close();
    await new Promise((resolve) => jwks.close(resolve));
  });

  it('accepts a token signed by the identity provider, with its scopes from the configured claim', async () => {
    const token = await sign({ tributary_scopes: 'read:market.* admin' });
    const response = await fetch(`${base}/streams/market.quotes`, { headers: bearer(token) });
    expect(response.status).toBe(200);
    const denied = await fetch(`${base}/streams/cep.alerts`, { headers: bearer(token) });
    expect(await denied.json()).toMatchObject({
      statusCode: 403,
      message: 'token:quant-42 lacks the scope read:cep.alerts',
    });
  });

  it('refuses an expired token, one for another audience and one signed by another key, saying which', async () => {
    const expired = await sign(
      { tributary_scopes: 'admin' },
      { expiresIn: Math.floor(Date.now() / 1000) - 3600 },
    );
    const expiredAnswer = await fetch(`${base}/status`, { headers: bearer(expired) });
    expect(expiredAnswer.status).toBe(401);
    expect(await expiredAnswer.json()).toMatchObject({ message: 'the bearer token has expired' });

    const otherAudience = await fetch(`${base}/status`, {
      headers: bearer(await sign({}, { audience: 'another-app' })),
    });
    expect(otherAudience.status).toBe(401);
    expect(await otherAudience.json()).toMatchObject({
      message: "the bearer token's aud claim is not accepted",
    });

    const { privateKey } = await generateKeyPair('RS256');
    const forged = await new SignJWT({ tributary_scopes: 'admin' })
      .setProtectedHeader({ alg: 'RS256', kid: 'key-1' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setExpirationTime('5m')
      .sign(privateKey);
    const forgedAnswer = await fetch(`${base}/status`, { headers: bearer(forged) });
    expect(forgedAnswer.status).toBe(401);
    expect(await forgedAnswer.json()).toMatchObject({
      message: 'the bearer token signature does not verify',
    });
  });
});

describe('authentication settings checked at start-up', () => {
  it('refuses the development key under NODE_ENV=production, naming the variable', () => {
    expect(authConfigIssues(configOf({ AUTH_DEV_KEY_ENABLED: 'true' }), 'production')).toEqual([
      {
        variable: 'AUTH_DEV_KEY_ENABLED',
        message: 'the public development key may not be enabled under NODE_ENV=production',
      },
    ]);
    expect(authConfigIssues(configOf({ AUTH_DEV_KEY_ENABLED: 'true' }), 'development')).toEqual([]);
  });

  it('keeps the development key off unless asked for', async () => {
    expect(configOf({}).AUTH_DEV_KEY_ENABLED).toBe(false);
    expect(
      await new Authenticator(configOf({ AUTH_API_KEYS: `ops:${OPS_KEY}:admin` })).authenticate(
        'tributary-dev-key',
      ),
    ).toBeUndefined();
    expect(
      await new Authenticator(configOf({ AUTH_DEV_KEY_ENABLED: 'true' })).authenticate('tributary-dev-key'),
    ).toMatchObject({ name: 'development' });
  });

  it('names what is missing when no caller could authenticate, and what a JWKS URL needs beside it', () => {
    expect(authConfigIssues(configOf({}), 'production')).toEqual([
      {
        variable: 'AUTH_API_KEYS',
        message: expect.stringMatching(/no caller could authenticate: set AUTH_API_KEYS or AUTH_JWKS_URL/),
      },
    ]);
    expect(
      authConfigIssues(configOf({ AUTH_JWKS_URL: 'http://idp.example.test/certs' }), 'production').map(
        (issue) => issue.variable,
      ),
    ).toEqual(['AUTH_JWKS_URL', 'AUTH_JWT_ISSUER', 'AUTH_JWT_AUDIENCE']);
  });
});
