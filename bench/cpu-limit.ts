// Makes one process the bottleneck, so that one client on the same 2 cores can offer it several times
// its capacity: a cgroup v1 CPU quota (docs: ENGINEERING.md §3), or, where that cgroup cannot be written
// (not root, cgroup v2 only), busy-loop neighbour processes that compete with it for its CPU.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'

const CPU_CGROUP = '/sys/fs/cgroup/cpu'
const NEIGHBOURS = 4
// Ten times the default weight: on a busy machine the process still gets its quota (which caps it anyway).
const CPU_SHARES = 10_240

export type CpuLimitMethod = 'cgroup' | 'neighbours'

export interface CpuLimit {
  method: CpuLimitMethod
  /** What was done, for the report; with the fallback, why the cgroup was not used. */
  detail: string
  /** Undoes it: the process leaves the cgroup and the cgroup is removed, or the neighbours are killed. */
  release(): Promise<void>
}

/** The cgroup v1 cpu hierarchy path a process is in, e.g. `/` (from /proc/<pid>/cgroup). */
function cpuGroupOf (pid: number): string {
  const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8')
    .split('\n')
    .find((entry) => entry.split(':')[1]?.split(',').includes('cpu'))
  if (line === undefined) throw new Error('no cgroup v1 cpu controller')
  return line.split(':')[2] ?? '/'
}

function cgroupLimit (pid: number, quotaUs: number, periodUs: number): CpuLimit {
  const home = `${CPU_CGROUP}${cpuGroupOf(pid)}`.replace(/\/$/, '')
  const dir = `${CPU_CGROUP}/vi-token-broker-bench-${process.pid}`
  mkdirSync(dir)
  try {
    writeFileSync(`${dir}/cpu.cfs_period_us`, String(periodUs))
    writeFileSync(`${dir}/cpu.cfs_quota_us`, String(quotaUs))
    writeFileSync(`${dir}/cpu.shares`, String(CPU_SHARES))
    writeFileSync(`${dir}/cgroup.procs`, String(pid))
  } catch (error) {
    rmdirSync(dir)
    throw error
  }
  return {
    method: 'cgroup',
    detail:
      `cgroup v1 ${dir}: cpu.cfs_quota_us ${quotaUs} per cpu.cfs_period_us ${periodUs} ` +
      `(${Math.round((100 * quotaUs) / periodUs)} % of one core), cpu.shares ${CPU_SHARES}`,
    async release () {
      try {
        writeFileSync(`${home}/cgroup.procs`, String(pid))
      } catch {
        // the process has exited, which leaves the group as well
      }
      rmdirSync(dir)
    }
  }
}

/** A busy loop that ends by itself after 10 minutes, or as soon as its parent is gone. */
const BUSY_LOOP =
  'const parent = process.ppid; const end = Date.now() + 600000; ' +
  'for (let i = 0; ; i++) if (i % 1e6 === 0 && (process.ppid !== parent || Date.now() > end)) process.exit(0)'

async function neighbours (pid: number, why: string): Promise<CpuLimit> {
  const children: ChildProcess[] = Array.from({ length: NEIGHBOURS }, () =>
    spawn(process.execPath, ['-e', BUSY_LOOP], { stdio: 'ignore' })
  )
  // On the last CPU with the broker, where taskset exists, so that the client keeps the other core.
  const cpu = String(cpus().length - 1)
  const pinned = [pid, ...children.map((child) => child.pid)].every(
    (target) => spawnSync('taskset', ['-a', '-p', '-c', cpu, String(target)], { stdio: 'ignore' }).status === 0
  )
  return {
    method: 'neighbours',
    detail:
      `fallback, ${why}: ${NEIGHBOURS} busy-loop neighbour processes ` +
      (pinned ? `pinned with the broker to CPU ${cpu} (taskset)` : 'sharing every CPU with the broker and the client'),
    async release () {
      await Promise.all(
        children.map(
          (child) =>
            new Promise((resolve) => {
              if (child.exitCode !== null || child.signalCode !== null) return resolve(undefined)
              child.once('exit', resolve)
              child.kill('SIGKILL')
            })
        )
      )
    }
  }
}

/** Limits `pid` to quotaUs of CPU time per periodUs, through a cgroup when `method` allows and it can. */
export async function limitCpu (
  pid: number,
  options: { quotaUs: number; periodUs: number; method: CpuLimitMethod }
): Promise<CpuLimit> {
  if (options.method === 'neighbours') return neighbours(pid, 'asked for with --cpu-limit=neighbours')
  try {
    return cgroupLimit(pid, options.quotaUs, options.periodUs)
  } catch (error) {
    return neighbours(pid, `the cgroup could not be written (${(error as Error).message})`)
  }
}
