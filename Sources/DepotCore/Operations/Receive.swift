import AptRepository
import DebianFormat
import Foundation
import Synchronization

/// What the store records for a received package, worked out on every core before the
/// transaction, so that the transaction only writes rows and moves files.
struct PreparedFile: Sendable {
    var incoming: IncomingPackage
    var poolPath: String
    var stanza: String
    var controlText: String

    init(_ incoming: IncomingPackage, component: String) throws(DepotError) {
        let deb = incoming.deb
        self.incoming = incoming
        poolPath = PoolPath.of(
            component: component, source: deb.source, package: deb.package, version: deb.version,
            architecture: deb.architecture)
        do {
            stanza = try IndexStanza.render(control: deb.control, filename: poolPath, checksums: deb.checksums)
        } catch {
            throw .invalidPackage(DebFileError(file: incoming.name, problem: .unrepresentableField(error)))
        }
        controlText = deb.control.rendered()
    }
}

extension Repository {
    /// Reads `path` while `DebFile` hashes and checks it, and writes it into the pool at its
    /// pool path; where another file has that name already, into `.depot/incoming/` instead,
    /// for the transaction to decide.
    ///
    /// The copy is written as a file with no name, then named: nobody sees it half written
    /// and a crash leaves nothing behind. (File systems that cannot do that get a temporary
    /// name in `.depot/incoming/`.)
    func receive(_ path: String, component: String, mover: any PoolWriter) throws -> PreparedFile {
        let unnamed: Int32?
        do {
            unnamed = try DurableFiles.openUnnamed(in: incomingDirectory)
        } catch {
            throw DepotError.file(error)
        }
        let temporary = incomingDirectory + "/" + IncomingPackage.temporaryFileName()
        let output = unnamed ?? open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard output >= 0 else { throw DepotError.file(FileError(path: temporary, operation: "create", code: errno)) }
        var temporaryExists = unnamed == nil
        var received = false
        defer {
            close(output)
            if temporaryExists && !received { unlink(temporary) }
        }
        var writeFailure: Int32?
        let deb: DebFile
        do {
            deb = try DebFile.read(path: path) { chunk in
                if writeFailure == nil { writeFailure = DurableFiles.append(chunk, to: output) }
            }
        } catch {
            throw DepotError.invalidPackage(error)
        }
        if let writeFailure {
            let written = unnamed == nil ? temporary : incomingDirectory
            throw DepotError.file(FileError(path: written, operation: "write", code: writeFailure))
        }
        var prepared = try PreparedFile(
            IncomingPackage(name: path, location: .incoming(temporary), deb: deb), component: component)
        if unnamed != nil {
            do throws(FileError) {
                if try mover.place(output, at: prepared.poolPath) {
                    prepared.incoming.location = .pool
                } else {
                    guard try DurableFiles.link(output, to: temporary) else {
                        throw FileError(path: temporary, operation: "create", code: EEXIST)
                    }
                    temporaryExists = true
                }
            } catch {
                throw DepotError.file(error)
            }
        }
        received = true
        return prepared
    }

    /// The rows of a push, inside its transaction; `mover` moves the new files into the pool
    /// meanwhile.
    func list(
        _ prepared: [PreparedFile], in distribution: String, component: String, allowDowngrade: Bool,
        timestamp: String, mover: any PoolWriter, _ db: any StoreTransaction
    ) throws -> ([PushOutcome], [Change]) {
        // What the store has for these names, read in two queries rather than two per file,
        // and kept up to date as the files are recorded and listed.
        let names = Array(Set(prepared.map(\.incoming.deb.package)))
        var known = Dictionary(grouping: try MetadataStore.files(db, names: names)) { PackageKey($0) }
        var listed = Dictionary(
            grouping: try MetadataStore.listings(db, distribution: distribution, names: names).map(\.file)
        ) { PackageKey($0) }
        var outcomes: [PushOutcome] = []
        var changes: [Change] = []
        let writes = MetadataStore.ListingWrites()
        for record in prepared {
            let package = record.incoming
            let deb = package.deb
            let key = PackageKey(name: deb.package, architecture: deb.architecture)
            let file = try storeFile(record, known: &known[key, default: []], mover: mover, timestamp: timestamp, db)
            let result = try addListing(
                file, to: distribution, component: component, allowDowngrade: allowDowngrade,
                fileName: package.name, listed: &listed[key, default: []], writes: writes)
            outcomes.append(
                PushOutcome(
                    file: package.name, package: deb.package, version: deb.version.description,
                    architecture: deb.architecture, poolPath: file.poolPath,
                    status: result.change == nil ? .unchanged : .added,
                    unlisted: result.unlisted))
            if let change = result.change { changes.append(change) }
        }
        try writes.flush(db)
        return (outcomes, changes)
    }

    /// Records the file and has it moved into the pool if it is not there yet, or finds the
    /// identical file recorded already (in `known`, the recorded files of its name and
    /// architecture) and deletes the copy. The same name, version and architecture with other
    /// bytes is a conflict.
    func storeFile(
        _ record: PreparedFile, known: inout [PackageFile], mover: any PoolWriter, timestamp: String,
        _ db: any StoreTransaction
    ) throws -> PackageFile {
        let package = record.incoming
        let deb = package.deb
        let existing = known.first { $0.debianVersion == deb.version }
        if let existing {
            guard existing.checksums.sha256 == deb.checksums.sha256 else {
                let listedIn = try MetadataStore.distributions(listing: existing.id, db)
                throw DepotError.conflict(
                    file: package.name, package: deb.package, version: deb.version.description,
                    architecture: deb.architecture,
                    existingSHA256: existing.checksums.sha256, newSHA256: deb.checksums.sha256,
                    existingPath: existing.poolPath, listedIn: listedIn)
            }
            // A copy named at its pool path restores a pool file that had gone missing.
            package.discard()
            return existing
        }
        let poolPath = record.poolPath
        // The pool's file name leaves the epoch out (as Debian's does), so 1:1.0-1 and
        // 2:1.0-1 would share one file: refused, as dak and reprepro refuse it.
        if let sharing = known.first(where: { $0.poolPath == poolPath }) {
            throw DepotError.poolPathTaken(
                file: package.name, package: deb.package, version: deb.version.description,
                architecture: deb.architecture, existingVersion: sharing.version, poolPath: poolPath,
                listedIn: try MetadataStore.distributions(listing: sharing.id, db))
        }
        let fileID = try MetadataStore.insertFile(
            db, deb, poolPath: poolPath, control: record.controlText, stanza: record.stanza, added: timestamp)
        try MetadataStore.recordProvides(db, fileID: fileID, provides: deb.control["Provides"])
        let file = PackageFile(
            id: fileID, name: deb.package, version: deb.version.description,
            architecture: deb.architecture,
            source: deb.source, poolPath: poolPath, checksums: deb.checksums)
        known.append(file)
        if case .incoming(let temporary) = package.location {
            mover.move(
                temporary, to: poolPath, checksums: deb.checksums,
                replaceable: !(try MetadataStore.isKeptForClients(db, path: poolPath)))
        }
        return file
    }
}

/// Counts finished items from several threads and reports each step.
final class ProgressCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var done = 0
    private let total: Int
    private let report: (@Sendable (Int, Int) -> Void)?

    init(total: Int, report: (@Sendable (Int, Int) -> Void)?) {
        self.total = total
        self.report = report
    }

    func advance() {
        guard let report else { return }
        let count = lock.withLock {
            done += 1
            return done
        }
        report(count, total)
    }
}
