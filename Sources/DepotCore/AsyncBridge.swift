import Dispatch
import Synchronization

/// Runs async work to its end from synchronous code. The operations run on threads of their
/// own (the CLI's, or `depot serve`'s Dispatch threads for blocking work) and the work they
/// wait for runs on `WaitedForExecutor`'s, never on Swift concurrency's pool: a caller that
/// blocked that pool's threads (as many as cores) would otherwise wait for itself.
func waitFor<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) throws -> T {
    try waitFor(work, givingUp: nil)
}

/// `waitFor`, that stops waiting, throwing what `giveUp` returns, once it returns an error:
/// it is asked every second the work is still under way.
func waitFor<T: Sendable>(
    _ work: @escaping @Sendable () async throws -> T, givingUp giveUp: (() -> (any Error)?)?
) throws -> T {
    let done = DispatchSemaphore(value: 0)
    let outcome = Mutex<Result<T, any Error>?>(nil)
    Task(executorPreference: WaitedForExecutor.shared) {
        let result: Result<T, any Error>
        do {
            result = .success(try await work())
        } catch {
            result = .failure(error)
        }
        outcome.withLock { $0 = result }
        done.signal()
    }
    if let giveUp {
        while done.wait(timeout: .now() + 1) == .timedOut {
            if let error = giveUp() { throw error }
        }
    } else {
        done.wait()
    }
    return try outcome.withLock { $0! }.get()
}

/// Where async work that synchronous code waits for runs: Dispatch's overcommitting threads,
/// which grow in number when the ones there are blocked, unlike Swift concurrency's pool.
final class WaitedForExecutor: TaskExecutor {
    static let shared = WaitedForExecutor()

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        // A serial queue of its own lands on the overcommitting threads; a concurrent queue
        // would be held to one thread per core.
        DispatchQueue(label: "depot.waited-for").async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}

/// Runs blocking library work (file I/O, the store, the repository lock) on a Dispatch
/// thread, so that async code waiting for it never holds one of Swift concurrency's.
public func onDispatchThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
    }
}
