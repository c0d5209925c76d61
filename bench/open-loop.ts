// An open-loop HTTP client: request i is due at start + i / rate, whether or not earlier ones were answered.
// Requests go over keep-alive connections opened before the schedule starts, one in flight on each; when
// every connection is busy a request waits here for one, and its latency still counts from the time it
// was due (so a slow server cannot hide its queue in the client). Plain HTTP/1.1 on net sockets: the
// client must stay cheaper than the server it overloads.
import { connect, type Socket } from 'node:net'
import { percentiles, tally } from './common.js'

export interface OpenLoopOptions {
  port: number
  path: string
  token: string
  ratePerSecond: number
  durationS: number
  connections: number
  /** How long to wait, once the connections are open, before the schedule starts. */
  settleMs: number
  /** How long to wait for the last answers once the schedule is over. */
  graceMs: number
}

export interface OpenLoopResult {
  offeredPerSecond: number
  scheduled: number
  /** 2xx answers received while the schedule ran, per second. */
  goodputPerSecond: number
  /** Latency of the 2xx answers, from the time each request was due. */
  p50Ms: number
  p99Ms: number
  /** Answers by status; a 503 whose body has the code OVERLOADED is counted as `503 OVERLOADED`. */
  statuses: Record<string, number>
  /** Connections that failed with a request in flight, and requests with no answer by the end. */
  errors: number
  unanswered: number
  connections: number
  /** The most requests that waited here at once for a free connection. */
  clientQueueMax: number
  /** How late this client sent the requests that found a free connection: its own lag, p99. */
  sendLagP99Ms: number
}

interface Connection {
  socket: Socket
  dueAt: number
  busy: boolean
  pending: Buffer | undefined
}

interface Answer {
  status: number
  body: string
  close: boolean
}

/** One complete response at the start of `buffer`, or undefined while more bytes are needed. */
function parse (buffer: Buffer): Answer | undefined {
  const headerEnd = buffer.indexOf('\r\n\r\n')
  if (headerEnd < 0) return undefined
  const head = buffer.toString('latin1', 0, headerEnd)
  const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? Number.NaN)
  if (!Number.isFinite(length)) throw new Error(`a response without Content-Length: ${head.split('\r\n')[0]}`)
  if (buffer.length < headerEnd + 4 + length) return undefined
  return {
    status: Number(head.slice(9, 12)),
    body: buffer.toString('latin1', headerEnd + 4, headerEnd + 4 + length),
    close: /\r\nconnection: *close/i.test(head)
  }
}

export async function openLoop (options: OpenLoopOptions): Promise<OpenLoopResult> {
  const request = Buffer.from(
    `GET ${options.path} HTTP/1.1\r\nHost: 127.0.0.1:${options.port}\r\n` +
      `Authorization: Bearer ${options.token}\r\n\r\n`,
    'latin1'
  )
  const statuses: Record<string, number> = {}
  const latencies: number[] = []
  const sendLags: number[] = []
  const all = new Set<Connection>()
  const idle: Connection[] = []
  const queue: number[] = []
  let inFlight = 0
  let errors = 0
  let good = 0
  let clientQueueMax = 0
  let endAt = Number.POSITIVE_INFINITY
  let running = true

  const send = (connection: Connection, dueAt: number) => {
    connection.busy = true
    connection.dueAt = dueAt
    inFlight++
    connection.socket.write(request)
  }
  const release = (connection: Connection) => {
    const next = queue.shift()
    if (next === undefined) idle.push(connection)
    else send(connection, next)
  }
  const answered = (connection: Connection, answer: Answer) => {
    const now = performance.now()
    connection.busy = false
    inFlight--
    const overloaded = answer.status === 503 && answer.body.includes('"OVERLOADED"')
    tally(statuses, overloaded ? '503 OVERLOADED' : String(answer.status))
    if (answer.status >= 200 && answer.status < 300) {
      latencies.push(now - connection.dueAt)
      if (now <= endAt) good++
    }
    if (answer.close) connection.socket.destroy()
    else release(connection)
  }
  const open = () =>
    new Promise<void>((resolve, reject) => {
      const socket = connect(options.port, '127.0.0.1')
      const connection: Connection = { socket, dueAt: 0, busy: false, pending: undefined }
      all.add(connection)
      socket.setNoDelay(true)
      socket.once('connect', () => {
        release(connection)
        resolve()
      })
      socket.on('data', (chunk: Buffer) => {
        if (!connection.busy) return void socket.destroy() // nothing was asked on it
        connection.pending = connection.pending ? Buffer.concat([connection.pending, chunk]) : chunk
        const answer = parse(connection.pending)
        if (!answer) return
        connection.pending = undefined
        answered(connection, answer)
      })
      socket.on('error', reject)
      socket.once('close', () => {
        all.delete(connection)
        const index = idle.indexOf(connection)
        if (index >= 0) idle.splice(index, 1)
        if (!running) return
        if (connection.busy) {
          errors++
          inFlight--
        }
        // Keep the pool's size while the schedule runs; a request waiting here takes the new connection.
        open().catch(() => undefined)
      })
    })

  for (let opened = 0; opened < options.connections; opened += 256) {
    await Promise.all(Array.from({ length: Math.min(256, options.connections - opened) }, open))
  }

  await new Promise((resolve) => setTimeout(resolve, options.settleMs))
  const interval = 1000 / options.ratePerSecond
  const total = Math.round(options.ratePerSecond * options.durationS)
  const start = performance.now() + 5
  endAt = start + options.durationS * 1000
  let next = 0
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now()
      for (; next < total && start + next * interval <= now; next++) {
        const dueAt = start + next * interval
        const connection = idle.pop()
        if (connection) {
          sendLags.push(now - dueAt)
          send(connection, dueAt)
        } else {
          queue.push(dueAt)
          clientQueueMax = Math.max(clientQueueMax, queue.length)
        }
      }
      if (next < total) setTimeout(tick, 1)
      else resolve()
    }
    setTimeout(tick, 5)
  })
  const graceEnd = performance.now() + options.graceMs
  const settled = () => inFlight === 0 && queue.length === 0
  while (!settled() && performance.now() < graceEnd) {
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  running = false
  const unanswered = inFlight + queue.length
  for (const connection of all) connection.socket.destroy()
  const answers = percentiles(latencies)
  const p = (value: number) => (Number.isFinite(value) ? value : 0)
  return {
    offeredPerSecond: options.ratePerSecond,
    scheduled: total,
    goodputPerSecond: good / options.durationS,
    p50Ms: p(answers.p50),
    p99Ms: p(answers.p99),
    statuses,
    errors,
    unanswered,
    connections: options.connections,
    clientQueueMax,
    sendLagP99Ms: p(percentiles(sendLags).p99)
  }
}
