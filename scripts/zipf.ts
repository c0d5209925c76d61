/**
 * A sampler of ranks 0..n-1 with P(rank) proportional to 1/(rank+1)^s: the popularity of videos in
 * the soak and the benchmark. Pass a seeded `random` for a repeatable sequence.
 */
export function zipfSampler (n: number, s: number, random: () => number = Math.random): () => number {
  const cumulative = new Float64Array(n)
  let total = 0
  for (let rank = 1; rank <= n; rank++) cumulative[rank - 1] = total += 1 / rank ** s
  return () => {
    const target = random() * total
    let low = 0
    let high = n - 1
    while (low < high) {
      const mid = (low + high) >> 1
      if ((cumulative[mid] as number) < target) low = mid + 1
      else high = mid
    }
    return low
  }
}
