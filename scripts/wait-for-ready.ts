/** Polls a readiness URL every 100 ms until it answers 2xx; throws after timeoutMs. */
export async function waitForReady (url: string, timeoutMs: number): Promise<void> {
  for (let attempt = 0; attempt < timeoutMs / 100; attempt++) {
    try {
      if ((await fetch(url)).ok) return
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`the broker did not become ready at ${url}`)
}
