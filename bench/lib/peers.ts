import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type ChildServer, startProcess } from './child-server.ts';

/** A free loopback port (released just before the peer binds it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** Headers that make Portkey forward a chat completion to `upstreamUrl` as if it were OpenAI. */
export function portkeyHeaders(upstreamUrl: string): Record<string, string> {
  return { 'x-portkey-provider': 'openai', 'x-portkey-custom-host': `${upstreamUrl}/v1` };
}

/**
 * Portkey's open-source gateway as its README runs it (`start-server.js --port=N`, headless).
 * It listens on every interface by default; a preload binds it to loopback instead.
 */
export async function startPortkey(): Promise<ChildServer> {
  const require = createRequire(import.meta.url);
  const packageJson = require.resolve('@portkey-ai/gateway/package.json');
  const script = path.join(path.dirname(packageJson), 'build', 'start-server.js');
  const port = await freePort();
  return startProcess({
    name: 'portkey',
    command: process.execPath,
    args: [
      '--import',
      'tsx',
      '--import',
      path.resolve(import.meta.dirname, '..', 'servers', 'loopback-only.ts'),
      script,
      `--port=${port}`,
      '--headless',
    ],
    env: { NODE_ENV: 'production' },
    readyFromOutput: (output) => (output.includes('Ready for connections') ? `http://127.0.0.1:${port}` : null),
  });
}

const NGINX = '/usr/sbin/nginx';

/**
 * The nginx binary, installing Debian's `nginx-light` when it is missing and this process is
 * root; otherwise null with the reason.
 */
function ensureNginx(): { binary: string } | { missing: string } {
  if (existsSync(NGINX)) return { binary: NGINX };
  if (process.getuid?.() !== 0) return { missing: `${NGINX} is missing and installing nginx-light needs root` };
  console.log('nginx is missing: installing nginx-light with apt-get (running as root)');
  const install = () => spawnSync('apt-get', ['install', '-y', 'nginx-light'], { stdio: 'inherit' }).status === 0;
  if (!install()) {
    spawnSync('apt-get', ['update'], { stdio: 'inherit' });
    install();
  }
  return existsSync(NGINX) ? { binary: NGINX } : { missing: 'apt-get install -y nginx-light failed' };
}

/**
 * nginx as a reverse proxy of `upstreamUrl`, configured as the ceiling of what a proxy does here:
 * one worker (like the gateway's one event loop), HTTP/1.1 with a keep-alive pool to the upstream,
 * no response buffering, request bodies held in memory (as the gateway holds them), no access log.
 * Null, with the reason printed, when nginx is not there and cannot be installed.
 */
export async function startNginx(upstreamUrl: string): Promise<ChildServer | null> {
  const found = ensureNginx();
  if ('missing' in found) {
    console.log(`nginx comparison skipped: ${found.missing}`);
    return null;
  }
  const upstream = new URL(upstreamUrl);
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-nginx-'));
  const conf = `
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  client_max_body_size 0;
  client_body_buffer_size 1m;
  keepalive_requests 100000;
  upstream bench_upstream {
    server ${upstream.host};
    keepalive 64;
    keepalive_requests 100000;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://bench_upstream;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
`;
  writeFileSync(path.join(dir, 'nginx.conf'), conf);
  try {
    const server = await startProcess({
      name: 'nginx',
      command: found.binary,
      args: ['-p', dir, '-e', path.join(dir, 'error.log'), '-c', path.join(dir, 'nginx.conf'), '-g', 'daemon off;'],
      probe: { url: `http://127.0.0.1:${port}`, port },
    });
    return {
      ...server,
      stop: async () => {
        await server.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
