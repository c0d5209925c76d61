import t from 'tap'
import { kustomizations, missingKustomize, render, schemaErrors, type K8sObject } from './support/manifests.js'

if (!missingKustomize(t)) main()

function main (): void {
  for (const dir of kustomizations) {
    t.test(`${dir}: renders, and every object is valid against its Kubernetes schema`, async (t) => {
      const objects = render(dir)
      t.ok(objects.length >= 8, `${objects.length} objects`)
      for (const object of objects) {
        t.same(schemaErrors(object), [], `${object.kind} ${object.metadata.name}`)
      }
    })
  }

  t.test('the validator is not vacuous: it rejects broken objects', async (t) => {
    const [deployment] = render('deploy/k8s/base').filter((o) => o.kind === 'Deployment') as [K8sObject]
    const broken = structuredClone(deployment)
    broken.spec.replicas = 'two'
    broken.spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem = 'yes'
    const errors = schemaErrors(broken)
    t.match(errors.join('\n'), /spec\/replicas must be integer/)
    t.match(errors.join('\n'), /readOnlyRootFilesystem must be boolean/)
    t.match(schemaErrors({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'x' } }), [
      /no schema for example\.com\/v1\/Widget/
    ])
  })
}
