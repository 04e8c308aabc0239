import AptRepository

extension Repository {
    /// What an operation tells `change` about publishing what it made.
    struct ChangeNotes {
        /// Whether the change touched what the served tree shows (a dry run, an approval and a
        /// revoked token do not).
        var publishes = true
        /// Index chunks compressed while the change was made, for its publish to reuse.
        var precompressed = PrecompressedChunks()
        /// What a push recorded, for the error that says its publish failed.
        var outcomes: [PushOutcome] = []
    }

    /// The one way a writing operation changes the repository. Holding the lock, it publishes
    /// what earlier changes left unpublished (or refuses the change when that fails), runs
    /// `body`, which records the change in one store transaction, and publishes it.
    ///
    /// `operation` names the change in the error that says its publish failed ("push",
    /// "promotion", ...): past `body`, the change is recorded whatever happens to the tree.
    func change<Value>(
        _ operation: String, in distribution: String? = nil, context: OperationContext? = nil,
        _ body: (inout ChangeNotes) throws -> Value
    ) throws -> Value {
        if let distribution { try requireDistribution(distribution) }
        return try withLock(cancelled: context?.isCancelled ?? { false }) {
            try publishEarlierChanges()
            var notes = ChangeNotes()
            let value = try body(&notes)
            if notes.publishes {
                try publishRecorded(operation, outcomes: notes.outcomes, precompressed: notes.precompressed)
            }
            return value
        }
    }

    /// Publishes the change `operation` just committed. A failure leaves that change recorded,
    /// and the error says so, and what publishes it: whoever made it must not take it for undone.
    private func publishRecorded(
        _ operation: String, outcomes: [PushOutcome] = [], precompressed: PrecompressedChunks = .init()
    ) throws {
        do {
            try publishPending(precompressed: precompressed)
        } catch let error as DepotError {
            throw DepotError.recordedButUnpublished(error, operation: operation, outcomes: outcomes)
        }
    }
}
