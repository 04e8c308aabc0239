import AptRepository
import Crypto
import DebianFormat
import Foundation
import S3Client
import Synchronization

/// `InRelease` in the bucket changed while a publish ran: another writer published.
struct BucketRaceError: Error, Sendable, CustomStringConvertible {
    var location: String
    var distribution: String

    var description: String {
        "\(location) changed while this publish ran: another writer publishes to this bucket; "
            + "nothing was replaced, run 'depot publish \(distribution)' again"
    }
}

/// Puts a push's files into the bucket before its transaction, `BucketTree.width` at a time.
final class BucketPoolWriter: PoolWriter, @unchecked Sendable {
    private struct Job: Sendable {
        var temporaryPath: String
        var poolPath: String
        var checksums: Checksums
        var replaceable: Bool
    }

    private struct State {
        var queue: [Job] = []
        var next = 0
        var running = 0
        /// Every worker started, for `finish` and `undo` to wait for.
        var workers: [Task<Void, Never>] = []
        var failure: (any Error)?
    }

    private let tree: BucketTree
    private let state = Mutex(State())

    init(tree: BucketTree) { self.tree = tree }

    /// A bucket has no name to give an open file: every file goes up from `.depot/incoming/`.
    func place(_ descriptor: Int32, at poolPath: String) throws(FileError) -> Bool { false }

    /// Queues the upload; a worker takes it (one is started while fewer than the width run):
    /// a push of thousands of files keeps a few requests in flight, not thousands of tasks.
    func move(_ temporaryPath: String, to poolPath: String, checksums: Checksums, replaceable: Bool) {
        state.withLock { state in
            state.queue.append(
                Job(temporaryPath: temporaryPath, poolPath: poolPath, checksums: checksums, replaceable: replaceable))
            guard state.running < BucketTree.width else { return }
            state.running += 1
            state.workers.append(Task(executorPreference: WaitedForExecutor.shared) { await self.work() })
        }
    }

    /// Uploads queued files until none is left; after a failure, only discards them.
    private func work() async {
        while let (job, failed) = state.withLock({ state -> (Job, Bool)? in
            guard state.next < state.queue.count else {
                state.running -= 1
                return nil
            }
            state.next += 1
            return (state.queue[state.next - 1], state.failure != nil)
        }) {
            defer { unlink(job.temporaryPath) }
            guard !failed else { continue }
            do {
                _ = try await tree.uploadPoolFile(
                    job.temporaryPath, to: job.poolPath, checksums: job.checksums, replaceable: job.replaceable)
            } catch {
                state.withLock { $0.failure = $0.failure ?? error }
            }
        }
    }

    func flushPlaced() -> BackgroundTask<Void>? { nil }

    private func waitForWorkers() {
        let workers = state.withLock { $0.workers }
        _ = try? waitFor {
            for worker in workers { await worker.value }
        }
    }

    /// An object the server acknowledged is stored: nothing is left to flush.
    func finish() throws -> BackgroundTask<Void>? {
        waitForWorkers()
        switch state.withLock({ $0.failure }) {
        case nil: return nil
        case let error as DepotError: throw error
        case let error?: throw DepotError.objectStorage("\(error)")
        }
    }

    /// Deletes nothing: another push (on another node) may have found an object this one
    /// created holding its very bytes and listed it meanwhile. What no change references is
    /// gc's, after the grace period.
    func undo() {
        waitForWorkers()
    }
}
