/**
 * OpenTelemetry metrics and traces for token acquisition, from the client's events: counters of tokens
 * acquired, retries, failures and revocations, a histogram of how long getting a token took, and a span
 * per token fetch and per failure.
 *
 *   npx tsx examples/opentelemetry.ts
 *
 * Only `@opentelemetry/api` is used, as in a library. Your service starts an OpenTelemetry SDK (for
 * example `@opentelemetry/sdk-node` with an OTLP exporter) before it creates the client, and calls
 * `instrument(client)`. No SDK is started here, and without one the API's meters and tracers are
 * no-ops that record nothing; so that you can see what `instrument()` records, this example hands it a
 * meter and a tracer that print each recording before passing it on to the (no-op) global ones.
 *
 * Runs against an embedded authorization server, or yours with M2M_TOKEN_ENDPOINT, M2M_CLIENT_ID,
 * M2M_CLIENT_SECRET (and optionally M2M_SCOPE, M2M_REVOCATION_ENDPOINT).
 */
import {
  type Attributes,
  type Context,
  type Meter,
  type MetricOptions,
  metrics,
  type Span,
  SpanKind,
  type SpanOptions,
  SpanStatusCode,
  type SpanStatus,
  type TimeInput,
  trace,
  type Tracer,
} from '@opentelemetry/api';
import { ClientCredentialsClient } from 'm2m-token';
import { exampleEnvironment } from './support/env.js';

/**
 * Feeds a client's events to OpenTelemetry. Call it once per client; it returns a function that stops.
 * Event payloads hold no secret and no token (a short `fingerprint` instead), so they are safe as
 * attributes; the fingerprint goes on spans only, where its cardinality does no harm.
 */
function instrument(
  client: ClientCredentialsClient,
  { meter = metrics.getMeter('m2m-token'), tracer = trace.getTracer('m2m-token') }: { meter?: Meter; tracer?: Tracer } = {},
): () => void {
  const tokens = meter.createCounter('m2m_token.tokens', {
    description: 'Access tokens acquired from the token endpoint',
    unit: '{token}',
  });
  const retries = meter.createCounter('m2m_token.retries', { description: 'Requests retried after a transient failure', unit: '{retry}' });
  const errors = meter.createCounter('m2m_token.errors', { description: 'Operations that failed after any retries', unit: '{error}' });
  const revocations = meter.createCounter('m2m_token.revocations', { description: 'Revocations, by outcome', unit: '{token}' });
  const duration = meter.createHistogram('m2m_token.fetch.duration', { description: 'Time to get a token, retries included', unit: 'ms' });

  const stops = [
    client.on('token', (e) => {
      const attributes = { 'm2m_token.client_id': e.clientId, 'm2m_token.key': e.key, 'm2m_token.background': e.background };
      tokens.add(1, attributes);
      duration.record(e.duration, attributes);
      // The event comes when the fetch is over: the span is recorded afterwards, with its real start time.
      const end = Date.now();
      tracer
        .startSpan('m2m-token fetch', {
          kind: SpanKind.CLIENT,
          startTime: end - e.duration,
          attributes: { ...attributes, 'm2m_token.attempts': e.attempts, 'm2m_token.fingerprint': e.fingerprint },
        })
        .end(end);
    }),
    client.on('retry', (e) => {
      retries.add(1, {
        'm2m_token.client_id': e.clientId,
        'm2m_token.operation': e.operation,
        'error.type': e.reason,
        ...(e.status === undefined ? {} : { 'http.response.status_code': e.status }),
      });
    }),
    client.on('error', (e) => {
      const attributes = {
        'm2m_token.client_id': e.clientId,
        'm2m_token.operation': e.operation,
        'error.type': e.error.code,
        'm2m_token.background': e.background,
      };
      errors.add(1, attributes);
      const span = tracer.startSpan(`m2m-token ${e.operation} failed`, { kind: SpanKind.CLIENT, attributes });
      span.recordException({ name: e.error.name, message: e.error.message });
      span.setStatus({ code: SpanStatusCode.ERROR, message: e.error.message });
      span.end();
    }),
    client.on('revoke', (e) => {
      revocations.add(1, {
        'm2m_token.client_id': e.clientId,
        'm2m_token.ok': e.ok,
        ...(e.error === undefined ? {} : { 'error.type': e.error.code }),
      });
    }),
  ];
  return () => {
    for (const stop of stops) stop();
  };
}

// --- The example -------------------------------------------------------------------------------------

const env = await exampleEnvironment();
const telemetry = printing(metrics.getMeter('m2m-token'), trace.getTracer('m2m-token'));

// The first token request fails as if the network had dropped it, so that a retry shows up below.
let dropped = false;
const flakyFetch: typeof fetch = (input, init) => {
  if (!dropped) {
    dropped = true;
    return Promise.reject(new TypeError('fetch failed (simulated by the example)'));
  }
  return fetch(input, init);
};

const client = new ClientCredentialsClient({ ...env.client, fetch: flakyFetch, retry: { minDelay: 50 } });
const stop = instrument(client, telemetry);
// A client with a wrong secret, to show a failure.
const misconfigured = new ClientCredentialsClient({ ...env.client, clientSecret: 'not-the-secret', retry: false });
const stopMisconfigured = instrument(misconfigured, telemetry);

try {
  console.log('\n1. getToken(): the first attempt fails, the retry succeeds');
  await client.getToken();

  console.log('\n2. getToken({ forceRefresh: true }): a second token');
  await client.getToken({ forceRefresh: true });

  console.log('\n3. a client with a wrong secret');
  await misconfigured.getToken().catch((error: Error) => console.log(`   getToken() rejected: ${error.message}`));

  console.log('\n4. close({ revoke: true })');
  const { revoked, errors } = await client.close({ revoke: true });
  console.log(`   ${revoked} token(s) revoked, ${errors.length} error(s)${errors.map((e) => `: ${e.code} ${e.message}`).join('')}`);

  console.log(
    `\nNo OpenTelemetry SDK is registered in this example, so the global meter and tracer recorded nothing:` +
      `\nstart one (e.g. @opentelemetry/sdk-node) before creating the client and call instrument(client) to export the above.`,
  );
} finally {
  stop();
  stopMisconfigured();
  await client.close();
  await misconfigured.close();
  await env.close();
}

// --- Demo only: a meter and a tracer that print each recording, then pass it on ----------------------

function printing(meter: Meter, tracer: Tracer): { meter: Meter; tracer: Tracer } {
  const show = (attributes: Attributes | undefined) => JSON.stringify(attributes ?? {});
  const printingMeter = Object.assign(Object.create(meter) as Meter, {
    createCounter(name: string, options?: MetricOptions) {
      const counter = meter.createCounter(name, options);
      return {
        add(value: number, attributes?: Attributes, context?: Context) {
          console.log(`   counter   ${name} +${value} ${show(attributes)}`);
          counter.add(value, attributes, context);
        },
      };
    },
    createHistogram(name: string, options?: MetricOptions) {
      const histogram = meter.createHistogram(name, options);
      return {
        record(value: number, attributes?: Attributes, context?: Context) {
          console.log(`   histogram ${name} ${value} ${options?.unit ?? ''} ${show(attributes)}`);
          histogram.record(value, attributes, context);
        },
      };
    },
  });
  const printingTracer = Object.assign(Object.create(tracer) as Tracer, {
    startSpan(name: string, options: SpanOptions = {}, context?: Context): Span {
      const span = tracer.startSpan(name, options, context);
      const start = typeof options.startTime === 'number' ? options.startTime : Date.now();
      let status = 'UNSET';
      return Object.assign(Object.create(span) as Span, {
        setStatus(value: SpanStatus) {
          status = SpanStatusCode[value.code];
          span.setStatus(value);
          return this;
        },
        end(endTime?: TimeInput) {
          const end = typeof endTime === 'number' ? endTime : Date.now();
          console.log(`   span      "${name}" ${end - start} ms status=${status} ${show(options.attributes)}`);
          span.end(endTime);
        },
      });
    },
  });
  return { meter: printingMeter, tracer: printingTracer };
}
