/** Polls a condition every 25 ms, for up to 5 s; the assertion that follows says whether it came true. */
export async function until (condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 25))
}
