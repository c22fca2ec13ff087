/**
 * Ctrl-C while a command waits for a run (`--wait`). The run is the workers' and goes on: the
 * command ends its progress line, says so and how to follow or stop the run, and exits 130
 * (without this, Node ended it mid-line with nothing said, and a user could think the run was
 * cancelled).
 */
export async function leavingOnInterrupt<T>(hint: string, waiting: () => Promise<T>): Promise<T> {
  const onInterrupt = () => {
    process.stderr.write(`\nStopped waiting (Ctrl-C); the run goes on. ${hint}\n`);
    process.exit(130);
  };
  process.once('SIGINT', onInterrupt);
  try {
    return await waiting();
  } finally {
    process.off('SIGINT', onInterrupt);
  }
}
