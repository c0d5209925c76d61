import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

/** The broker's Prometheus metrics, in a registry of its own (one per app, so tests stay independent). */
export function createMetrics () {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const registers = [registry]
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
    new Counter<L>({ name, help, labelNames, registers })
  return {
    registry,
    requests: counter(
      'vi_broker_token_requests_total',
      'Token requests by caller (known callers only), scope, outcome (HTTP status) and account alias',
      ['caller', 'scope', 'status', 'account'] as const
    ),
    evictions: counter(
      'vi_broker_evictions_total',
      'DELETE /cache requests by caller (known callers only), scope ("all" for every token), HTTP status ' +
        'and account alias',
      ['caller', 'scope', 'status', 'account'] as const
    ),
    cache: counter('vi_broker_cache_results_total', 'How token requests were served: hit, miss, coalesced or refresh', [
      'result'
    ] as const),
    servedTokenLife: new Histogram({
      name: 'vi_broker_served_token_remaining_seconds',
      help: 'Life left in each token served; a growing share near TOKEN_MIN_REMAINING_SECONDS means refreshes fail',
      buckets: [300, 600, 900, 1200, 1800, 2700, 3600],
      registers
    }),
    shed: counter('vi_broker_requests_shed_total', 'Token and cache requests answered 503 OVERLOADED by load shedding'),
    cacheEntries: new Gauge({ name: 'vi_broker_cache_entries', help: 'Tokens in the cache', registers }),
    refreshFailures: counter('vi_broker_refresh_failures_total', 'Failed background refreshes'),
    armDuration: new Histogram({
      name: 'vi_broker_arm_request_duration_seconds',
      help: 'ARM generateRestrictedViewerAccessToken latency, by HTTP status (0 when no answer)',
      labelNames: ['status'] as const,
      buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers
    }),
    armRemainingWrites: new Gauge({
      name: 'vi_broker_arm_remaining_writes',
      help: 'x-ms-ratelimit-remaining-subscription-writes from the latest ARM answer, by identity (client id)',
      labelNames: ['identity'] as const,
      registers
    }),
    throttleHolds: counter(
      'vi_broker_arm_throttle_holds_total',
      "ARM 429s, by identity: each held back that identity's mints (on every replica when Redis is shared)",
      ['identity'] as const
    ),
    armMints: counter(
      'vi_broker_arm_mints_total',
      'generateRestrictedViewerAccessToken calls that ARM answered, by identity and HTTP status',
      ['identity', 'status'] as const
    ),
    armPacingDelay: new Histogram({
      name: 'vi_broker_arm_pacing_delay_seconds',
      help: "How long a mint waited for the identity's write bucket (the fleet's, when Redis is shared) to refill",
      labelNames: ['identity'] as const,
      buckets: [0, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers
    }),
    refreshDeferrals: counter(
      'vi_broker_refresh_deferrals_total',
      'Background refreshes put off because callers needed the ARM write budget'
    ),
    mintBudgetRefusals: counter(
      'vi_broker_mint_budget_refusals_total',
      "Mints refused because the caller was over its policy's mintBudget, by priority (caller or background)",
      ['priority'] as const
    ),
    armInFlight: new Gauge({ name: 'vi_broker_arm_in_flight', help: 'ARM calls in flight', registers }),
    identityRefreshes: counter(
      'vi_broker_identity_token_requests_total',
      "Requests for the broker's own ARM token from the identity endpoint",
      ['result'] as const
    ),
    sharedCache: counter(
      'vi_broker_shared_cache_results_total',
      'Redis tier outcomes: hit, minted (this replica held the lock), wait-timeout, rejected (failed to open)',
      ['result'] as const
    ),
    redisCircuit: new Gauge({
      name: 'vi_broker_redis_circuit_open',
      help: '1 while Redis is failing and the broker serves from memory and ARM only',
      registers
    }),
    secretReloads: counter(
      'vi_broker_secret_reloads_total',
      'Re-reads of a _FILE secret by variable and result: applied, unchanged or rejected (old secret kept)',
      ['variable', 'result'] as const
    ),
    queueDelay: new Gauge({
      name: 'vi_broker_queue_delay_seconds',
      help: 'Standing event-loop delay that load shedding acts on (the lower mean of its last two intervals)',
      registers
    }),
    shedProbability: new Gauge({
      name: 'vi_broker_shed_probability',
      help: 'Share of token and cache requests being shed (0 unless requests wait over OVERLOAD_TARGET_DELAY_MS)',
      registers
    }),
    accountMetadataReads: counter(
      'vi_broker_account_metadata_reads_total',
      "ARM Accounts_Get reads of each account's id and location, by account alias and result (ok, failed)",
      ['account', 'result'] as const
    ),
    accountReloads: counter(
      'vi_broker_accounts_reloads_total',
      'ACCOUNTS_FILE reloads by result: applied, unchanged or rejected',
      ['result'] as const
    ),
    policyReloads: counter(
      'vi_broker_policy_reloads_total',
      'Policy reloads by result: applied, unchanged or rejected',
      ['result'] as const
    )
  }
}

export type Metrics = ReturnType<typeof createMetrics>
