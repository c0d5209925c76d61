// The Grafana dashboard and the Prometheus alert rules against the broker's real /metrics: every query
// parses as PromQL (Prometheus's own grammar), and every metric and label it names is one the broker exports.
import { readFileSync } from 'node:fs'
import { parser } from '@prometheus-io/lezer-promql'
import t from 'tap'
import { parse } from 'yaml'
import { build } from '../helper.js'
import { callerToken } from '../support/tokens.js'
import { root } from './support/manifests.js'

interface Query {
  where: string
  expr: string
}

const dashboard = JSON.parse(readFileSync(`${root}deploy/grafana/vi-token-broker.json`, 'utf8'))
const rule = parse(readFileSync(`${root}deploy/k8s/components/prometheus-rules/prometheusrule.yaml`, 'utf8'))
const alerts: Array<Record<string, any>> = rule.spec.groups.flatMap((group: { rules: unknown[] }) => group.rules)

// Grafana substitutes its variables before a query reaches Prometheus.
const grafanaQuery = (expr: string) => expr.replaceAll('$__rate_interval', '1m').replaceAll('$job', '.*')

const queries: Query[] = [
  ...dashboard.panels.flatMap((panel: { title: string; targets?: Array<{ expr: string }> }) =>
    (panel.targets ?? []).map((target) => ({ where: `panel "${panel.title}"`, expr: grafanaQuery(target.expr) }))
  ),
  ...alerts.map((alert) => ({ where: `alert ${alert.alert}`, expr: alert.expr as string }))
]
// Grafana's label_values(metric, label) is not PromQL: its metric is checked like the others.
const variableMetrics = dashboard.templating.list
  .filter((variable: { type: string }) => variable.type === 'query')
  .map((variable: { query: { query: string } }) => /^label_values\((\w+), *(\w+)\)$/.exec(variable.query.query))

interface Selector {
  metric: string
  labels: string[]
}

/** The vector selectors of a PromQL expression, and its syntax errors. */
function analyse (expr: string): { selectors: Selector[]; grouping: string[]; errors: string[] } {
  const selectors: Selector[] = []
  const grouping: string[] = []
  const errors: string[] = []
  parser.parse(expr).iterate({
    enter (node) {
      if (node.type.isError) errors.push(`syntax error at ${node.from}: ${expr.slice(node.from, node.from + 20)}`)
      if (node.name === 'VectorSelector') {
        const identifier = node.node.getChild('Identifier')
        const matchers = node.node.getChild('LabelMatchers')?.getChildren('UnquotedLabelMatcher') ?? []
        selectors.push({
          metric: identifier ? expr.slice(identifier.from, identifier.to) : '',
          labels: matchers.map((m) => {
            const name = m.getChild('LabelName')
            return name ? expr.slice(name.from, name.to) : ''
          })
        })
      }
      if (node.name === 'GroupingLabels') {
        for (const label of node.node.getChildren('LabelName')) grouping.push(expr.slice(label.from, label.to))
      }
    }
  })
  return { selectors, grouping, errors }
}

/** Labels Prometheus adds when it scrapes (job, instance; namespace, pod and service from a ServiceMonitor). */
const TARGET_LABELS = new Set(['job', 'instance', 'namespace', 'pod', 'service', 'container', 'endpoint'])

t.test('the analysis is not vacuous: it finds syntax errors and names', async (t) => {
  t.same(analyse('sum(rate(foo{a="1"}[5m]))').selectors, [{ metric: 'foo', labels: ['a'] }])
  t.same(analyse('sum by (status) (foo)').grouping, ['status'])
  t.ok(analyse('sum(rate(foo[5m])').errors.length > 0, 'an unbalanced parenthesis is an error')
  t.ok(queries.length >= 20, `${queries.length} queries`)
  t.ok(variableMetrics.every(Boolean), 'every query variable is label_values(metric, label)')
})

t.test('every query parses, and names only metrics and labels that a real scrape of /metrics shows', async (t) => {
  const { app, request } = await build(t)
  // One request of each kind, so labelled series exist too.
  await request({ url: '/tokens/video/abc', token: await callerToken('portal-bff') })
  const scrape = await request({ url: '/metrics' })
  t.equal(scrape.statusCode, 200)
  const families = new Map<string, string>()
  for (const [, name, type] of scrape.body.matchAll(/^# TYPE (\S+) (\S+)$/gm)) families.set(name!, type!)
  const exported = new Map<string, string>()
  for (const [family, type] of families) {
    const series = { histogram: ['_bucket', '_sum', '_count'], summary: ['', '_sum', '_count'] }[type] ?? ['']
    for (const suffix of series) exported.set(family + suffix, family)
  }
  for (const [, sample] of scrape.body.matchAll(/^([a-zA-Z_:][\w:]*)[{ ]/gm)) {
    t.ok(exported.has(sample!), `sample ${sample} belongs to a family the scrape declares`)
  }
  const registry = await app.metricsRegistry()
  const labelsOf = (metric: string) => {
    const family = exported.get(metric) as string
    const own = (registry.getSingleMetric(family) as unknown as { labelNames?: string[] } | undefined)?.labelNames ?? []
    return new Set([...own, ...TARGET_LABELS, ...(metric.endsWith('_bucket') ? ['le'] : [])])
  }

  for (const { where, expr } of queries) {
    const { selectors, grouping, errors } = analyse(expr)
    t.same(errors, [], `${where}: parses`)
    t.ok(selectors.length > 0, `${where}: reads a metric`)
    for (const { metric, labels } of selectors) {
      t.ok(exported.has(metric), `${where}: ${metric} is exported`)
      if (!exported.has(metric)) continue
      const known = labelsOf(metric)
      for (const label of labels) t.ok(known.has(label), `${where}: ${metric} has the label ${label}`)
    }
    const known = new Set(selectors.flatMap(({ metric }) => (exported.has(metric) ? [...labelsOf(metric)] : [])))
    for (const label of grouping) t.ok(known.has(label), `${where}: grouped by ${label}, a label of its metrics`)
  }
  for (const match of variableMetrics) t.ok(exported.has(match![1]), `variable: ${match![1]} is exported`)
})

t.test('the dashboard shows what an operator of the broker asks first', async (t) => {
  const all = queries.filter((q) => q.where.startsWith('panel')).map((q) => q.expr).join('\n')
  for (const metric of [
    'vi_broker_token_requests_total', // request rate by outcome
    'vi_broker_cache_results_total', // cache hit ratio
    'vi_broker_arm_request_duration_seconds_bucket', // ARM latency
    'vi_broker_arm_remaining_writes',
    'vi_broker_arm_throttle_holds_total',
    'vi_broker_redis_circuit_open',
    'vi_broker_requests_shed_total'
  ]) {
    t.match(all, metric)
  }
})

t.test('the alert rules cover throttling, ARM errors, the Redis circuit and tokens near minimum life', async (t) => {
  const names = alerts.map((alert) => alert.alert)
  for (const name of [
    'ViTokenBrokerArmThrottling',
    'ViTokenBrokerArmErrors',
    'ViTokenBrokerRedisCircuitOpen',
    'ViTokenBrokerTokensNearMinimumLife'
  ]) {
    t.ok(names.includes(name), name)
  }
  t.match(alerts.find((a) => a.alert === 'ViTokenBrokerArmErrors'), { for: /^\d+m$/ }, 'an error rate must be sustained')
  for (const alert of alerts) {
    t.match(alert, { labels: { severity: /^(warning|critical)$/ }, annotations: { summary: String, description: String } })
  }
})
