// Swift Testing is there only when tests are built: a release build of every target
// (`swift build -c release`, as the benchmarks are built) compiles this target without it.
#if canImport(Testing)
import Dispatch
import Testing

/// Runs a suite's or a test's body, and the tasks it starts, on `DedicatedExecutor`'s threads
/// instead of Swift concurrency's pool, which has as many threads as cores. A synchronous test
/// runs on a pool thread for as long as it takes: on a 2-core machine two such tests that wait
/// on subprocesses for seconds hold the whole pool, and async tests, in-process servers and the
/// library's own async work have nowhere to run. Tests that mostly wait (servers, PostgreSQL,
/// apt-get) go off the pool and run beside the others.
public struct OffThePool: SuiteTrait, TestTrait, TestScoping {
    public var isRecursive: Bool { true }

    public func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        try await withTaskExecutorPreference(DedicatedExecutor.shared) { try await function() }
    }
}

extension Trait where Self == OffThePool {
    /// See `OffThePool`.
    public static var offThePool: Self { Self() }
}

/// Threads of its own for tests off the pool and the tasks they start.
public final class DedicatedExecutor: TaskExecutor {
    public static let shared = DedicatedExecutor()

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        // A serial queue of its own runs on dispatch's overcommitting threads, which grow in
        // number as jobs block; a concurrent queue would be held to one thread per core.
        DispatchQueue(label: "depot.tests.dedicated").async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
#endif
