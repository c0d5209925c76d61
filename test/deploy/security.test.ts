// The security and operability properties of the rendered Deployment and its neighbours (issue #5),
// asserted on every rendered kustomization, so an overlay cannot quietly undo them.
import t from 'tap'
import { find, kustomizations, missingKustomize, render, type K8sObject } from './support/manifests.js'

if (!missingKustomize(t)) main()

function main (): void {
  const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

  function envValue (container: K8sObject, name: string): string {
    const entry = (container.env as { name: string; value?: string }[]).find((e) => e.name === name)
    if (entry?.value === undefined) throw new Error(`no literal env ${name}`)
    return entry.value
  }

  for (const dir of kustomizations) {
    t.test(dir, async (t) => {
      const objects = render(dir)
      const deployment = find(objects, 'Deployment')
      const pod = deployment.spec.template
      const [container, ...others] = pod.spec.containers as K8sObject[]
      t.equal(others.length, 0, 'one container')
      if (container === undefined) return

      t.test('workload identity', async (t) => {
        t.equal(
          pod.metadata.labels['azure.workload.identity/use'],
          'true',
          'pod label azure.workload.identity/use: "true" (a string)'
        )
        const account = find(objects, 'ServiceAccount', pod.spec.serviceAccountName)
        t.match(
          account.metadata.annotations['azure.workload.identity/client-id'],
          GUID,
          'service account annotated with a client id'
        )
        t.equal(pod.spec.automountServiceAccountToken, false, 'no Kubernetes API token mounted')
      })

      t.test('pod and container security context', async (t) => {
        const podSc = pod.spec.securityContext
        const sc = container.securityContext
        t.equal(podSc.runAsNonRoot, true, 'pod runAsNonRoot')
        t.equal(sc.runAsNonRoot, true, 'container runAsNonRoot')
        t.ok(Number.isInteger(podSc.runAsUser) && podSc.runAsUser > 0, 'a numeric non-root uid kubelet can verify')
        t.equal(sc.readOnlyRootFilesystem, true, 'readOnlyRootFilesystem')
        t.equal(sc.allowPrivilegeEscalation, false, 'no privilege escalation')
        t.not(sc.privileged, true, 'not privileged')
        t.same(sc.capabilities.drop, ['ALL'], 'all capabilities dropped')
        t.equal(sc.capabilities.add, undefined, 'none added back')
        t.equal(podSc.seccompProfile.type, 'RuntimeDefault', 'pod seccomp RuntimeDefault')
        t.equal(sc.seccompProfile.type, 'RuntimeDefault', 'container seccomp RuntimeDefault')
        for (const key of ['hostNetwork', 'hostPID', 'hostIPC']) t.not(pod.spec[key], true, `no ${key}`)
        t.notOk(
          (pod.spec.volumes as K8sObject[]).some((v) => 'hostPath' in v),
          'no hostPath volume'
        )
      })

      t.test('replicas, spread, disruption budget and autoscaling', async (t) => {
        t.ok(deployment.spec.replicas >= 2, '2+ replicas')
        t.equal(deployment.spec.strategy.rollingUpdate.maxUnavailable, 0, 'rollouts never drop below the replica count')
        const keys = (pod.spec.topologySpreadConstraints as K8sObject[]).map((c) => {
          t.same(
            c.labelSelector.matchLabels,
            deployment.spec.selector.matchLabels,
            `${c.topologyKey} spread selects these pods`
          )
          return c.topologyKey
        })
        t.same(keys.sort(), ['kubernetes.io/hostname', 'topology.kubernetes.io/zone'], 'spread over nodes and zones')
        const pdb = find(objects, 'PodDisruptionBudget')
        t.same(pdb.spec.selector.matchLabels, deployment.spec.selector.matchLabels, 'the PDB covers these pods')
        t.ok(pdb.spec.maxUnavailable === 1 || pdb.spec.minAvailable >= 1, 'the PDB keeps one pod serving')
        const hpa = find(objects, 'HorizontalPodAutoscaler')
        t.same(hpa.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.metadata.name })
        t.ok(hpa.spec.minReplicas >= 2 && hpa.spec.maxReplicas > hpa.spec.minReplicas, 'HPA from 2+')
        t.same(
          hpa.spec.metrics.map((m: K8sObject) => m.resource?.name),
          ['cpu'],
          'HPA on CPU'
        )
        const service = find(objects, 'Service')
        t.equal(service.spec.type, 'ClusterIP')
        t.same(service.spec.selector, deployment.spec.selector.matchLabels)
      })

      t.test('resources', async (t) => {
        const { requests, limits } = container.resources
        const mib = (q: string) => Number(/^(\d+)Mi$/.exec(q)?.[1] ?? NaN)
        t.ok(mib(requests.memory) >= 194, 'memory request covers the measured peak (194 MiB)')
        t.ok(mib(limits.memory) >= mib(requests.memory), 'memory limit >= request')
        t.ok(requests.cpu, 'a CPU request (the HPA needs one)')
      })

      t.test('probes', async (t) => {
        t.same(container.livenessProbe.httpGet, { path: '/healthz', port: 'http' }, 'liveness /healthz')
        t.same(container.readinessProbe.httpGet, { path: '/readyz', port: 'http' }, 'readiness /readyz')
        t.same(container.startupProbe.httpGet, { path: '/healthz', port: 'http' }, 'startup probe')
        t.same(
          container.ports.find((p: K8sObject) => p.name === 'http'),
          { name: 'http', containerPort: 8080, protocol: 'TCP' }
        )
      })

      t.test('graceful shutdown budget', async (t) => {
        const delayMs = Number(envValue(container, 'SHUTDOWN_DELAY_MS'))
        const timeoutMs = Number(envValue(container, 'SHUTDOWN_TIMEOUT_MS'))
        const preStopSeconds = container.lifecycle.preStop.sleep.seconds
        t.equal(preStopSeconds * 1000, delayMs, 'preStop sleep = SHUTDOWN_DELAY_MS')
        t.ok(delayMs < timeoutMs, 'SHUTDOWN_DELAY_MS < SHUTDOWN_TIMEOUT_MS (the app requires it)')
        t.ok(
          pod.spec.terminationGracePeriodSeconds > preStopSeconds + timeoutMs / 1000,
          'grace period > preStop + SHUTDOWN_TIMEOUT_MS'
        )
      })

      t.test('policy from a ConfigMap directory (reloads survive symlink swaps)', async (t) => {
        const volume = (pod.spec.volumes as K8sObject[]).find((v) => v.configMap !== undefined)
        const mount = (container.volumeMounts as K8sObject[]).find((m) => m.name === volume?.name)
        t.ok(volume && mount, 'a ConfigMap volume is mounted')
        t.equal(mount?.subPath, undefined, 'no subPath (kubelet never updates subPath mounts)')
        t.equal(mount?.readOnly, true)
        const file = envValue(container, 'POLICY_FILE')
        t.equal(file, `${mount?.mountPath}/policy.json`, 'POLICY_FILE is inside the mounted directory')
        const configMap = find(objects, 'ConfigMap', volume?.configMap.name)
        t.doesNotThrow(() => JSON.parse(configMap.data['policy.json']), 'the policy is JSON')
      })

      t.test('secrets', async (t) => {
        const key = (container.env as K8sObject[]).find((e) => e.name === 'AUDIT_HMAC_KEY')
        t.same(
          key?.valueFrom?.secretKeyRef,
          { name: 'vi-token-broker', key: 'AUDIT_HMAC_KEY' },
          'AUDIT_HMAC_KEY from a Secret'
        )
        for (const configMap of objects.filter((o) => o.kind === 'ConfigMap')) {
          t.notOk(
            Object.keys(configMap.data).some((k) => /SECRET|HMAC|PASSWORD/.test(k)),
            `no secret in ConfigMap ${configMap.metadata.name}`
          )
        }
      })

      t.test('network policy', async (t) => {
        const policy = find(objects, 'NetworkPolicy')
        t.same(policy.spec.podSelector.matchLabels, deployment.spec.selector.matchLabels)
        t.same(policy.spec.policyTypes, ['Ingress', 'Egress'], 'default deny both ways')
        const [bff, scraper, ...rest] = policy.spec.ingress as K8sObject[]
        t.equal(rest.length, 0, 'two ingress rules')
        t.same(
          bff?.from,
          [{ namespaceSelector: { matchLabels: { 'vi-token-broker.contoso.com/caller': 'true' } } }],
          'BFF namespaces by label'
        )
        t.same(bff?.ports, [{ port: 'http', protocol: 'TCP' }])
        t.ok(scraper?.from[0].namespaceSelector && scraper?.from[0].podSelector, 'the scraper by namespace and pod')
        t.same(scraper?.ports, [{ port: 'metrics', protocol: 'TCP' }], 'the scraper reaches the metrics port only')
        const [dns, https, ...more] = policy.spec.egress as K8sObject[]
        t.equal(more.length, 0, 'two egress rules')
        t.same(dns?.to[0].podSelector.matchLabels, { 'k8s-app': 'kube-dns' })
        t.same(
          dns?.ports.map((p: K8sObject) => p.port),
          [53, 53],
          'DNS'
        )
        t.same(
          https?.ports,
          [{ port: 443, protocol: 'TCP' }],
          'HTTPS only (ARM, Entra ID, the identity token exchange)'
        )
        t.ok(https?.to[0].ipBlock.except.includes('10.0.0.0/8'), 'not the cluster-private ranges')
      })

      t.test('metrics scraping', async (t) => {
        const annotated =
          pod.metadata.annotations?.['prometheus.io/port'] === String(envValue(container, 'METRICS_PORT'))
        const monitor = objects.some((o) => o.kind === 'ServiceMonitor')
        t.ok(annotated || monitor, 'scrape annotations or a ServiceMonitor')
        t.ok(
          container.ports.some(
            (p: K8sObject) => p.name === 'metrics' && String(p.containerPort) === envValue(container, 'METRICS_PORT')
          )
        )
      })
    })
  }
}
