// `npm run test:helm`: the chart through the real helm (scripts/helm.mjs builds it from source):
// lint with the CPU and GPU values, and what the rendered manifests promise Kubernetes.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ROOT } from '../helpers.js';

const chart = join(ROOT, 'deploy/helm/voicecue');
const helm = execFileSync(process.execPath, [join(ROOT, 'scripts/helm.mjs')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
const run = (...args: string[]) => execFileSync(helm, args, { encoding: 'utf8' });

type Doc = { kind: string; metadata: { name: string }; spec: Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
const render = (...args: string[]): Doc[] =>
  parseAllDocuments(run('template', 'vc', chart, ...args)).map((d) => d.toJSON() as Doc).filter(Boolean);

for (const values of ['values-cpu.yaml', 'values-gpu.yaml']) {
  t.test(`helm lint passes with ${values}`, async (t) => {
    t.match(run('lint', chart, '-f', join(chart, values), '--strict'), /1 chart\(s\) linted, 0 chart\(s\) failed/);
  });
}

t.test('GPU values: probes, the GPU, the grace period, the volumes, secrets by reference', async (t) => {
  const docs = render('-f', join(chart, 'values-gpu.yaml'), '--set', 'secrets.apiKeys=k-secret-value,secrets.googleCredentials={}');
  const deployment = docs.find((d) => d.kind === 'Deployment')!;
  const pod = deployment.spec.template.spec;
  const [container] = pod.containers;
  t.same(container.readinessProbe.httpGet, { path: '/health', port: 'http' }, 'readiness is /health');
  t.same(container.livenessProbe.httpGet, { path: '/health/live', port: 'http' }, 'liveness is /health/live');
  t.equal(container.startupProbe.httpGet.path, '/health');
  t.ok(container.startupProbe.periodSeconds * container.startupProbe.failureThreshold >= 600, 'ten minutes or more to load the models');
  t.equal(container.resources.limits['nvidia.com/gpu'], 1, 'one GPU');
  const env = Object.fromEntries(container.env.map((e: { name: string; value?: string; valueFrom?: unknown }) => [e.name, e.value ?? e.valueFrom]));
  const longest = Number(env.VOICECUE_REQUEST_MAX_S ?? env.VOICECUE_REQUEST_TIMEOUT_S) + Number(env.VOICECUE_SHUTDOWN_GRACE_S);
  t.ok(pod.terminationGracePeriodSeconds > longest, `grace ${pod.terminationGracePeriodSeconds} s > the longest request plus the shutdown grace (${longest} s)`);
  t.same(container.volumeMounts.map((m: { mountPath: string }) => m.mountPath).sort(), ['/data', '/models']);
  const claims = docs.filter((d) => d.kind === 'PersistentVolumeClaim').map((d) => d.metadata.name).sort();
  t.same(claims, ['vc-voicecue-data', 'vc-voicecue-models']);
  t.same(pod.volumes.map((v: { persistentVolumeClaim: { claimName: string } }) => v.persistentVolumeClaim.claimName).sort(), claims);
  t.match(env.VOICECUE_API_KEYS, { secretKeyRef: { key: 'apiKeys' } }, 'the keys come from the Secret');
  t.match(env.VOICECUE_GOOGLE_CREDENTIALS, { secretKeyRef: { key: 'googleCredentials' } });
  t.notOk(JSON.stringify(deployment).includes('k-secret-value'), 'no secret value in the Deployment');
  t.ok(pod.tolerations.some((x: { key: string }) => x.key === 'nvidia.com/gpu'));
});

t.test('CPU values: no GPU; the HPA and ServiceMonitor only when asked for', async (t) => {
  const plain = render('-f', join(chart, 'values-cpu.yaml'));
  const [container] = plain.find((d) => d.kind === 'Deployment')!.spec.template.spec.containers;
  t.notOk(container.resources.limits?.['nvidia.com/gpu'], 'no GPU asked for');
  t.same(plain.map((d) => d.kind).sort(), ['Deployment', 'PersistentVolumeClaim', 'PersistentVolumeClaim', 'Service']);
  const all = render('--set', 'autoscaling.enabled=true,serviceMonitor.enabled=true');
  const hpa = all.find((d) => d.kind === 'HorizontalPodAutoscaler')!;
  t.equal(hpa.spec.scaleTargetRef.name, 'vc-voicecue');
  t.equal(all.find((d) => d.kind === 'ServiceMonitor')!.spec.endpoints[0].path, '/metrics');
  t.notOk(all.find((d) => d.kind === 'Deployment')!.spec.replicas, 'the HPA owns the replica count');
});
