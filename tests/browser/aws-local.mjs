// The AWS deployment on this machine, for the browser tests (and by hand: `node aws-local.mjs`
// prints the address and keeps running): moto for DynamoDB and SQS, the Lambda functions under
// `cargo lambda watch`, and in front of them a small stand-in for the two AWS services that call
// the functions:
//
// - API Gateway's HTTP API: the routes of infra/template.yaml (method and path, as API Gateway
//   matches them) become payload-format-2.0 events (cookies array, lower-case headers, base64 body,
//   requestContext.http.sourceIp = the TCP peer) sent to the route's function through the runtime
//   emulator's Invoke API; its answer (statusCode, headers, cookies, body) goes back to the browser.
//   Routes behind the JWT authorizer answer 401: there is no identity provider here (the Rust tests
//   feed those functions the sample events of events/).
// - Lambda's SQS event source: the queues of the template are polled and their messages handed to
//   the consuming function in batches; the messages it does not report as failed are deleted, the
//   failed ones come back after their visibility timeout, as on AWS.
// - Lambda's DynamoDB stream event source: the table's stream is read and each batch of new records
//   handed to the `relay` function, which publishes the domain events on moto's EventBridge bus;
//   the bus's rules (made by mailbox-aws-setup from the same rules as the template's) put them in
//   the queues. A batch the relay reports as failed is handed over again from that record.
//
// Nothing of the application runs here: every page, form and queue message is handled by the same
// function binaries that are deployed.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as netServer, connect } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const ACCOUNT = '123456789012'; // moto's account id
const REGION = 'cn-north-1'; // the region of the sample events: the setup tool must follow it

function freePort() {
  return new Promise((resolve) => {
    const s = netServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitPort(port, ms) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const ok = await new Promise((resolve) => {
      const c = connect(port, '127.0.0.1', () => { c.end(); resolve(true); });
      c.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`nothing listens on port ${port}`);
}

/** The template's HTTP routes and SQS event sources, by function (the template is generated and
 * regular: a `<Name>Function:` resource, then its events' `Method:`/`Path:` or `Queue:` lines). */
export function templateWiring(text = readFileSync(join(root, 'infra', 'template.yaml'), 'utf8')) {
  const routes = [];
  const queues = [];
  let fn = null;
  let method = null;
  let route = null;
  for (const line of text.split('\n')) {
    const resource = line.match(/^ {2}([A-Za-z0-9]+)Function:$/);
    if (resource) { fn = resource[1].toLowerCase(); continue; }
    if (/^ {0,3}\S/.test(line)) fn = null;
    if (!fn) continue;
    let m;
    if ((m = line.match(/^\s+Method: (\S+)$/))) method = m[1];
    if ((m = line.match(/^\s+Path: (\S+)$/)) && m[1] === '$default') {
      // API Gateway's catch-all: requests no other route takes.
      route = { fn, method, path: m[1], regex: /^$/, names: [], jwt: false, fallback: true };
      routes.push(route);
    } else if ((m = line.match(/^\s+Path: (\S+)$/))) {
      const names = [];
      const pattern = m[1].replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{([^}]+)\}/g, (_, name) => {
        names.push(name);
        return '([^/]+)';
      });
      route = { fn, method, path: m[1], regex: new RegExp(`^${pattern}$`), names, jwt: false };
      routes.push(route);
    }
    if (/^\s+Authorizer: Staff$/.test(line) && route) route.jwt = true;
    if ((m = line.match(/^\s+Queue: !GetAtt ([A-Za-z0-9]+)Queue\.Arn$/))) queues.push({ fn, resource: m[1] });
  }
  return { routes, queues };
}

/** The queue name of a template resource name (`HandoffLinshui` → `handoff-linshui`). */
function queueName(resource) {
  return resource.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}

/** One request of SQS's JSON protocol to moto (which reads the service from a SigV4-shaped header). */
async function sqs(moto, action, body) {
  const response = await fetch(`http://127.0.0.1:${moto}/`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-target': `AmazonSQS.${action}`,
      authorization: `AWS4-HMAC-SHA256 Credential=test/20261130/${REGION}/sqs/aws4_request, SignedHeaders=host, Signature=0`,
    },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`SQS ${action}: ${response.status} ${await response.text()}`);
  return response.json();
}

/** One request of a JSON-protocol AWS API (DynamoDB, DynamoDB Streams) to moto. */
async function awsJson(moto, target, service, body) {
  const response = await fetch(`http://127.0.0.1:${moto}/`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-target': target,
      authorization: `AWS4-HMAC-SHA256 Credential=test/20261130/${REGION}/${service}/aws4_request, SignedHeaders=host, Signature=0`,
    },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${target}: ${response.status} ${await response.text()}`);
  return response.json();
}

/** Starts everything; resolves to `{ base, stop }` once each HTTP function has answered once. */
export async function startAwsLocal({ log = () => {} } = {}) {
  const [motoPort, watchPort, gatewayPort] = [await freePort(), await freePort(), await freePort()];
  const children = [];
  const venv = join(root, '.venv', 'bin');
  const moto = spawn(join(venv, 'python'), [join(root, 'scripts', 'moto-atomic.py'), '-H', '127.0.0.1', '-p', String(motoPort)], {
    stdio: 'ignore', detached: true,
  });
  children.push(moto);
  await waitPort(motoPort, 30_000);

  const table = `browser-${randomUUID().slice(0, 8)}`;
  const prefix = `${table}-`;
  const endpoint = `http://127.0.0.1:${motoPort}`;
  const env = {
    TABLE_NAME: table,
    QUEUE_PREFIX: prefix,
    QUEUE_URL_PREFIX: `${endpoint}/${ACCOUNT}/`,
    EVENT_BUS_NAME: `${prefix}events`,
    ATTACHMENTS_BUCKET: `${table}-files`,
    AWS_ENDPOINT_URL: endpoint,
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    RUST_LOG: 'warn',
  };
  // The setup tool takes the functions' own configuration from the environment.
  const setup = spawnSync(join(root, 'target', 'debug', 'mailbox-aws-setup'), ['--demo'], {
    env: { ...process.env, ...env }, encoding: 'utf8',
  });
  if (setup.status !== 0) throw new Error(`mailbox-aws-setup failed: ${setup.stderr}`);
  log(setup.stdout.trim());

  const envVars = Object.entries(env).map(([k, v]) => `${k}=${v}`).join(',');
  const watch = spawn('cargo', ['lambda', 'watch', '-q', '-A', '127.0.0.1', '-P', String(watchPort), '--env-vars', envVars], {
    cwd: root, env: { ...process.env, PATH: `${venv}:${process.env.PATH}` }, stdio: ['ignore', 'ignore', 'pipe'], detached: true,
  });
  let watchLog = '';
  watch.stderr.on('data', (d) => { watchLog = (watchLog + d).slice(-20_000); });
  children.push(watch);
  await waitPort(watchPort, 120_000);

  const invoke = async (fn, event, timeoutMs = 30_000) => {
    const response = await fetch(`http://127.0.0.1:${watchPort}/2015-03-31/functions/${fn}/invocations`, {
      method: 'POST', body: JSON.stringify(event), signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${fn} failed: ${response.status} ${text.slice(0, 500)}`);
    return JSON.parse(text);
  };

  const { routes, queues } = templateWiring();
  const server = createServer((req, res) => gateway(req, res).catch((e) => {
    log(`gateway: ${e.stack}`);
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
    res.end('{"message":"Internal Server Error"}');
  }));

  async function gateway(req, res) {
    const url = new URL(req.url, 'http://gateway');
    const path = decodeURIComponent(url.pathname);
    const route = routes.find((r) => r.regex.test(path) && (r.method === req.method || r.method === 'ANY'))
      || routes.find((r) => r.fallback);
    if (!route) {
      // API Gateway: an unknown route is 404 whatever the method.
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"message":"Not Found"}');
      return;
    }
    if (route.jwt) {
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer' });
      res.end('{"message":"Unauthorized"}');
      return;
    }
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks);
    const headers = {};
    let cookies;
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const [k, v] = [req.rawHeaders[i].toLowerCase(), req.rawHeaders[i + 1]];
      if (k === 'cookie') cookies = (cookies || []).concat(v.split(/;\s*/).filter(Boolean));
      else headers[k] = headers[k] ? `${headers[k]},${v}` : v;
    }
    const query = {};
    for (const [k, v] of url.searchParams) query[k] = query[k] === undefined ? v : `${query[k]},${v}`;
    const params = {};
    const match = path.match(route.regex);
    route.names.forEach((n, i) => { params[n] = match[i + 1]; });
    const routeKey = route.fallback ? '$default' : `${route.method} ${route.path}`;
    const now = new Date();
    const event = {
      version: '2.0',
      routeKey,
      rawPath: url.pathname,
      rawQueryString: url.search.slice(1),
      cookies,
      headers,
      queryStringParameters: Object.keys(query).length ? query : undefined,
      pathParameters: route.names.length ? params : undefined,
      requestContext: {
        accountId: ACCOUNT,
        apiId: 'local',
        domainName: headers.host || 'localhost',
        domainPrefix: 'local',
        http: {
          method: req.method,
          path: url.pathname,
          protocol: `HTTP/${req.httpVersion}`,
          sourceIp: req.socket.remoteAddress.replace(/^::ffff:/, ''),
          userAgent: headers['user-agent'] || '',
        },
        requestId: randomUUID(),
        routeKey,
        stage: '$default',
        time: now.toUTCString(),
        timeEpoch: now.getTime(),
      },
      body: body.length ? body.toString('base64') : undefined,
      isBase64Encoded: body.length > 0,
    };
    const out = await invoke(route.fn, event);
    const head = {};
    // API Gateway frames the body it sends itself: the function's Content-Length is not passed on.
    for (const [k, v] of Object.entries(out.headers || {})) if (k.toLowerCase() !== 'content-length') head[k] = v;
    for (const [k, v] of Object.entries(out.multiValueHeaders || {})) head[k] = v;
    if (out.cookies?.length) head['set-cookie'] = out.cookies;
    res.writeHead(out.statusCode || 200, head);
    res.end(out.body ? Buffer.from(out.body, out.isBase64Encoded ? 'base64' : 'utf8') : undefined);
  }

  await new Promise((resolve) => server.listen(gatewayPort, '127.0.0.1', resolve));

  // Lambda's SQS event source for each queue of the template.
  let polling = true;
  const pollers = queues.map(async ({ fn, resource }) => {
    const name = queueName(resource);
    const queueUrl = `${endpoint}/${ACCOUNT}/${prefix}${name}`;
    while (polling) {
      try {
        const got = await sqs(motoPort, 'ReceiveMessage', {
          QueueUrl: queueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 30, MessageSystemAttributeNames: ['All'],
        });
        const messages = got.Messages || [];
        if (!messages.length) { await new Promise((r) => setTimeout(r, 250)); continue; }
        const event = {
          Records: messages.map((m) => ({
            messageId: m.MessageId, receiptHandle: m.ReceiptHandle, body: m.Body, attributes: m.Attributes || {},
            messageAttributes: {}, md5OfBody: m.MD5OfBody, eventSource: 'aws:sqs',
            eventSourceARN: `arn:aws:sqs:${REGION}:${ACCOUNT}:${prefix}${name}`, awsRegion: REGION,
          })),
        };
        let failed;
        try {
          const out = await invoke(fn, event, 120_000);
          failed = new Set((out.batchItemFailures || []).map((f) => f.itemIdentifier));
        } catch (e) {
          log(`${fn} failed on ${name}: ${e.message}`);
          continue; // every message comes back after its visibility timeout
        }
        for (const m of messages.filter((x) => !failed.has(x.MessageId))) {
          await sqs(motoPort, 'DeleteMessage', { QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle });
        }
      } catch (e) {
        if (polling) log(`poller ${name}: ${e.message}`);
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  });

  // Lambda's DynamoDB stream event source for the relay: from the stream's start, one batch at a
  // time per shard; a batch item failure means "again from this record".
  const streamPoller = (async () => {
    const dynamo = (action, body) => awsJson(motoPort, `DynamoDB_20120810.${action}`, 'dynamodb', body);
    const streams = (action, body) => awsJson(motoPort, `DynamoDBStreams_20120810.${action}`, 'dynamodb', body);
    const arn = (await dynamo('DescribeTable', { TableName: table })).Table.LatestStreamArn;
    const shards = (await streams('DescribeStream', { StreamArn: arn })).StreamDescription.Shards;
    const iterators = [];
    for (const shard of shards) {
      const it = await streams('GetShardIterator', { StreamArn: arn, ShardId: shard.ShardId, ShardIteratorType: 'TRIM_HORIZON' });
      iterators.push(it.ShardIterator);
    }
    let pending = [];
    while (polling) {
      try {
        if (!pending.length) {
          for (let i = 0; i < iterators.length; i++) {
            const got = await streams('GetRecords', { ShardIterator: iterators[i] });
            iterators[i] = got.NextShardIterator || iterators[i];
            pending.push(...(got.Records || []));
          }
        }
        if (!pending.length) { await new Promise((r) => setTimeout(r, 250)); continue; }
        // GetRecords' records are in the shape Lambda hands them over.
        const out = await invoke('relay', { Records: pending }, 120_000);
        const failed = (out.batchItemFailures || [])[0]?.itemIdentifier;
        const from = failed ? pending.findIndex((r) => r.dynamodb.SequenceNumber === failed) : -1;
        pending = from >= 0 ? pending.slice(from) : [];
        if (from >= 0) await new Promise((r) => setTimeout(r, 1000));
      } catch (e) {
        if (polling) log(`stream poller: ${e.message}`);
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  })();

  // Each HTTP function compiles (cargo lambda watch builds on first use) and starts before the
  // tests begin, so no test waits on a cold build behind a 30-second gateway timeout.
  const httpFunctions = [...new Set(routes.filter((r) => !r.jwt).map((r) => r.fn))];
  for (const fn of httpFunctions) {
    const probe = routes.find((r) => r.fn === fn && r.method === 'GET' && !r.names.length && !r.jwt);
    if (!probe) continue;
    const warm = await fetch(`http://127.0.0.1:${gatewayPort}${probe.path}`, { signal: AbortSignal.timeout(900_000) }).catch((e) => e);
    if (!(warm instanceof Response)) throw new Error(`${fn} did not start: ${warm.message}\n${watchLog}`);
  }

  const stop = async () => {
    polling = false;
    await Promise.race([Promise.all([...pollers, streamPoller]), new Promise((r) => setTimeout(r, 2000))]);
    server.close();
    for (const c of children) {
      try { process.kill(-c.pid, 'SIGKILL'); } catch { /* already gone */ }
    }
  };
  return { base: `http://127.0.0.1:${gatewayPort}`, stop, table, motoPort };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { base, stop } = await startAwsLocal({ log: (m) => console.error(m) });
  console.log(`AWS deployment (local: moto, cargo lambda watch, API Gateway and SQS stand-ins) listening on ${base}`);
  const end = async () => { await stop(); process.exit(0); };
  process.on('SIGINT', end);
  process.on('SIGTERM', end);
}
