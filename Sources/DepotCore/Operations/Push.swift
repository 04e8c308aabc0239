import AptRepository
import DebianFormat
import Foundation
import Synchronization

extension Repository {
    /// Validates each file, stores it in the pool, lists it in the request's distribution and
    /// republishes it: all files or none.
    ///
    /// `progress` is told how many files have been read, of how many, as reading goes on.
    public func push(
        _ paths: [String], as request: PushRequest, context: OperationContext,
        progress: (@Sendable (Int, Int) -> Void)? = nil
    ) throws -> [PushOutcome] {
        let component = try checkPushTarget(request)
        do {
            try DurableFiles.makeDirectory(incomingDirectory)
        } catch {
            throw DepotError.file(error)
        }
        // Files are written into the pool as they are read, so the lock is held from the
        // start: gc must not take them for a killed push's leftovers.
        return try change("push", context: context) { notes in
            let mover = storage.poolWriter()
            // Every file is read, hashed, checked and written on all cores; then all must be
            // acceptable.
            let counter = ProgressCounter(total: paths.count, report: progress)
            let received = try paths.concurrentMap { path in
                defer { counter.advance() }
                return Result { try self.receive(path, component: component, mover: mover) }
            }
            // The files named in the pool while reading start on their way to the disk now,
            // while the transaction writes rows and the index is compressed.
            let readAll = received.allSatisfy { if case .success = $0 { true } else { false } }
            let flush = readAll ? mover.flushPlaced() : nil
            return try push(
                received, as: request, component: component, context: context, mover: mover, flushing: flush,
                notes: &notes)
        }
    }

    /// Pushes a package received over the network (`Upload`), as `push` does files.
    public func push(_ upload: Upload, as request: PushRequest, context: OperationContext) throws -> [PushOutcome] {
        let component = try checkPushTarget(request)
        let received = Result { try PreparedFile(try upload.received(), component: component) }
        return try change("push", context: context) { notes in
            try push(
                [received], as: request, component: component, context: context, mover: storage.poolWriter(),
                notes: &notes)
        }
    }

    /// The component a push goes to, once the distribution and component are known to exist
    /// and its gates let a push in: a gated distribution takes files only by promotion, which
    /// its gates check, unless `overrideGates` (recorded).
    private func checkPushTarget(_ request: PushRequest) throws -> String {
        let distribution = request.distribution
        // A name a template makes needs no earlier push: this one makes it.
        if configuration.instance(of: distribution) == nil {
            if let template = configuration.templates.first(where: { Configuration.template($0.name, matches: distribution) }) {
                throw DepotError.invalidArgument(
                    "invalid distribution name '\(distribution)': the template \(template.name) makes names of lower case "
                        + "letters, digits, '-' and '.' only")
            }
            try requireDistribution(distribution)
        }
        if let gated = configuration.distribution(distribution), gated.hasGates, !request.overrideGates {
            throw DepotError.gatesClosed([
                "\(distribution) has promotion gates (\(gated.gateNames.joined(separator: ", "))), so a push straight "
                    + "into it is refused; push into \((try? source(of: distribution)) ?? "the distribution before it") "
                    + "and promote"
            ], refused: "push")
        }
        let component = request.component ?? configuration.components[0]
        guard configuration.components.contains(component) else {
            throw DepotError.unknownComponent(component, known: configuration.components)
        }
        return component
    }

    /// The store's side of a push of received packages, holding the lock: all or none. On
    /// failure, the files the push put into the pool and the temporary ones are deleted.
    /// `flushing` is the flush of the files named in the pool while reading, if one was started.
    private func push(
        _ received: [Result<PreparedFile, any Error>], as request: PushRequest, component: String,
        context: OperationContext, mover: any PoolWriter, flushing placed: BackgroundTask<Void>? = nil,
        notes: inout ChangeNotes
    ) throws -> [PushOutcome] {
        let distribution = request.distribution
        var prepared = received.compactMap { try? $0.get() }
        let outcomes: [PushOutcome]
        let precompression: BackgroundTask<PrecompressedChunks>?
        do {
            for outcome in received { _ = try outcome.get() }
            if storage.isShared { prepared = try upload(prepared, mover: mover) }
            for package in prepared.map(\.incoming) {
                let architecture = package.deb.architecture
                guard architecture == Architecture.all || configuration.architectures.contains(architecture) else {
                    throw DepotError.architectureNotCarried(
                        file: package.name, architecture: architecture, distribution: distribution,
                        carried: configuration.architectures)
                }
            }
            precompression = try precompressIndices(adding: prepared, to: distribution, component: component)
            outcomes = try write { db in
                let (outcomes, changes) = try self.list(
                    prepared, in: distribution, component: component, allowDowngrade: request.allowDowngrade,
                    timestamp: context.timestamp, mover: mover, db)
                // Pool files are stored for good before the transaction that references them
                // commits; on a local disk by flushes made while the history is written.
                let flush = try mover.finish()
                if let template = self.configuration.instance(of: distribution)?.template,
                    try !MetadataStore.isLive(db, distribution)
                {
                    try MetadataStore.recordMade(
                        db, distribution, template: template, at: Int64(Self.date(context.timestamp)?.timeIntervalSince1970 ?? 0))
                }
                if !changes.isEmpty {
                    let gates = self.configuration.distribution(distribution)?.gateNames ?? []
                    _ = try MetadataStore.recordHistory(
                        db, operation: "push", distribution: distribution, context: context, changes: changes,
                        overriddenGates: request.overrideGates ? gates : [], notifying: self.configuration.webhooks)
                    try MetadataStore.markUnpublished(db, distribution)
                }
                try placed?.value()
                try flush?.value()
                return outcomes
            }
        } catch {
            // Nothing was committed: files this push put into the pool are referenced by nothing.
            for record in prepared { record.incoming.discard() }
            mover.undo()
            throw error
        }
        // Best effort: publishing compresses whatever the guess missed.
        notes.precompressed = (try? precompression?.value()) ?? PrecompressedChunks()
        notes.outcomes = outcomes
        return outcomes
    }

    /// Puts into a shared storage, before the push's transaction, the files the store does not
    /// know yet, and returns the records with those marked as in the pool: a transaction open
    /// across uploads would hold up every other node's changes.
    ///
    /// Uploads create objects and never replace one a client may be reading, so another node
    /// pushing the same bytes meanwhile is harmless; what the transaction then decides
    /// otherwise (a conflict found after all) leaves an unreferenced object for gc.
    private func upload(_ prepared: [PreparedFile], mover: any PoolWriter) throws -> [PreparedFile] {
        let names = Array(Set(prepared.map(\.incoming.deb.package)))
        let (recorded, kept) = try read { db in
            let recorded = Set(try MetadataStore.files(db, names: names).map(\.poolPath))
            let new = prepared.map(\.poolPath).filter { !recorded.contains($0) }
            return (recorded, try MetadataStore.keptForClients(db, paths: new))
        }
        var result = prepared
        for index in result.indices {
            let record = result[index]
            guard case .incoming(let temporary) = record.incoming.location, !recorded.contains(record.poolPath) else {
                continue
            }
            mover.move(
                temporary, to: record.poolPath, checksums: record.incoming.deb.checksums,
                replaceable: !kept.contains(record.poolPath))
            result[index].incoming.location = .pool
        }
        _ = try mover.finish()
        return result
    }

    /// Compresses, on the cores the rest of the push leaves idle, the index chunks this push
    /// will most likely publish, for publishing after the commit to use. The guess: the
    /// distribution's indices as committed, with the new files added and at most
    /// `Keep-Versions` versions of each name and architecture. A wrong guess costs time, never
    /// correctness: publishing compresses whatever it does not find.
    ///
    /// Nil for a push of few files: each changes at most one chunk, which publishing
    /// compresses sooner than the whole distribution could be read for a guess.
    private func precompressIndices(
        adding prepared: [PreparedFile], to distribution: String, component: String
    ) throws -> BackgroundTask<PrecompressedChunks>? {
        guard prepared.count >= 64 else { return nil }
        // Read here, on the store's connection, before the transaction: a second connection
        // reading meanwhile would change how SQLite leaves its WAL file behind.
        let committed = try read { db in
            var rows: [String: [IndexRow]] = [:]
            for indexComponent in configuration.components {
                for architecture in configuration.architectures {
                    rows[indexComponent + "/" + architecture] = try MetadataStore.stanzas(
                        db, distribution: distribution, component: indexComponent, architecture: architecture)
                }
            }
            return rows
        }
        let keep = configuration.distribution(distribution)?.keepVersions ?? 1
        let added = prepared.map { record in
            let deb = record.incoming.deb
            return IndexRow(
                name: deb.package, version: deb.version.description, architecture: deb.architecture,
                stanza: record.stanza, phase: nil)
        }
        return BackgroundTask { [publisher] in
            let predicted = self.indices { indexComponent, architecture in
                let rows = committed[indexComponent + "/" + architecture] ?? []
                guard indexComponent == component else { return rows }
                let new = added.filter { $0.architecture == architecture || $0.architecture == Architecture.all }
                return Self.newest(keep, of: rows + new)
            }
            return try publisher.precompress(predicted)
        }
    }

    /// Of each name and architecture's rows, the `keep` highest versions, the first row of
    /// each version.
    static func newest(_ keep: Int, of rows: [IndexRow]) -> [IndexRow] {
        let groups = Dictionary(grouping: rows) { PackageKey(name: $0.name, architecture: $0.architecture) }
        return groups.values.flatMap { group -> [IndexRow] in
            guard group.count > 1 else { return group }
            var seen = Set<String>()
            let distinct = group.filter { seen.insert($0.version).inserted }
            let versions = distinct.map { (row: $0, version: try? DebianVersion($0.version)) }
            let sorted = versions.sorted { a, b in
                guard let left = a.version, let right = b.version else { return false }
                return left > right
            }
            return sorted.prefix(max(1, keep)).map(\.row)
        }
    }
}
