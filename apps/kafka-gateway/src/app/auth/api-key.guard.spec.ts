import { Controller, Get, type INestApplication, Param, UseGuards } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { ApiKeyGuard, RequireScope } from './api-key.guard';
import { ApiKeyRegistry } from './api-keys';

@Controller()
@UseGuards(ApiKeyGuard)
class ProbeController {
  @Get('admin-only')
  @RequireScope('admin')
  adminOnly(): string {
    return 'ok';
  }

  @Get('streams/:stream')
  @RequireScope((request) => `produce:${request.params?.['stream'] ?? ''}`)
  stream(@Param('stream') stream: string): string {
    return stream;
  }

  @Get('open')
  open(): string {
    return 'ok';
  }
}

describe('API key guard', () => {
  let app: INestApplication;
  let base: string;

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      controllers: [ProbeController],
      providers: [
        ApiKeyGuard,
        {
          provide: ApiKeyRegistry,
          useValue: new ApiKeyRegistry([
            { name: 'ops', key: 'ops-key-0123456789abc', scopes: ['admin'] },
            { name: 'feeds', key: 'feed-key-0123456789', scopes: ['produce:options.*'] },
          ]),
        },
      ],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.listen(0, '127.0.0.1');
    base = await app.getUrl();
  });

  afterAll(() => app.close());

  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${base}${path}`, { headers });

  it('answers 401 without a key and with an unknown key', async () => {
    expect((await get('/admin-only')).status).toBe(401);
    expect((await get('/admin-only', { authorization: 'Bearer not-a-key-0123456789' })).status).toBe(401);
  });

  it('accepts the key as a Bearer token or as x-api-key', async () => {
    expect((await get('/admin-only', { authorization: 'Bearer ops-key-0123456789abc' })).status).toBe(200);
    expect((await get('/admin-only', { 'x-api-key': 'ops-key-0123456789abc' })).status).toBe(200);
  });

  it('answers 403 naming the missing scope, and never echoes the key', async () => {
    const response = await get('/admin-only', { 'x-api-key': 'feed-key-0123456789' });
    const body = await response.text();
    expect(response.status).toBe(403);
    expect(body).toContain('lacks the scope admin');
    expect(body).not.toContain('feed-key-0123456789');
  });

  it('checks a scope built from the route, e.g. produce:<stream>', async () => {
    expect((await get('/streams/options.quotes.v1', { 'x-api-key': 'feed-key-0123456789' })).status).toBe(200);
    expect((await get('/streams/equities.trades.v1', { 'x-api-key': 'feed-key-0123456789' })).status).toBe(403);
  });

  it('leaves routes without a required scope open', async () => {
    expect((await get('/open')).status).toBe(200);
  });
});
