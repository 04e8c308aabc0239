import AptRepository
import DebianFormat
import Foundation

/// A package arriving as a stream of bytes, an HTTP request body: written to
/// `.depot/incoming/` and hashed and checked as it arrives, never held whole in memory.
/// Its file is deleted when it goes away, unless a push moved it into the pool.
public final class Upload: @unchecked Sendable {
    /// What errors name it by: the request, say.
    public let name: String
    private let temporaryPath: String
    private let descriptor: Int32
    private let limit: Int
    private var reader = DebFile.StreamingReader()
    private var size = 0
    /// Pieces gathered up to `batchSize` before they are written and hashed: a request body
    /// arrives in pieces of a few kilobytes, and hashing a megabyte at once uses two threads.
    private var batch: [UInt8] = []
    private static let batchSize = 1 << 20

    /// Starts an upload of at most `limit` bytes.
    public init(into repository: Repository, name: String, limit: Int) throws {
        self.name = name
        self.limit = limit
        do {
            try DurableFiles.makeDirectory(repository.incomingDirectory)
        } catch {
            throw DepotError.file(error)
        }
        temporaryPath = repository.incomingDirectory + "/" + IncomingPackage.temporaryFileName()
        descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw DepotError.file(FileError(path: temporaryPath, operation: "create", code: errno))
        }
    }

    deinit {
        close(descriptor)
        unlink(temporaryPath)
    }

    /// Takes the next piece of the body.
    public func append(_ bytes: UnsafeRawBufferPointer) throws {
        size += bytes.count
        guard size <= limit else { throw DepotError.tooLarge(name: name, limit: limit) }
        batch.append(contentsOf: bytes)
        if batch.count >= Self.batchSize { try writeBatch() }
    }

    private func writeBatch() throws {
        defer { batch.removeAll(keepingCapacity: true) }
        try batch.withUnsafeBytes { bytes in
            if let failure = DurableFiles.append(bytes, to: descriptor) {
                throw DepotError.file(FileError(path: temporaryPath, operation: "write", code: failure))
            }
            do throws(DebFileError.Problem) {
                try reader.consume(bytes)
            } catch {
                throw DepotError.invalidPackage(DebFileError(file: name, problem: error))
            }
        }
    }

    /// The whole package, checked, once the body has ended.
    func received() throws -> IncomingPackage {
        try writeBatch()
        let deb: DebFile
        do {
            deb = try reader.finish()
        } catch {
            throw DepotError.invalidPackage(DebFileError(file: name, problem: error))
        }
        return IncomingPackage(name: name, location: .incoming(temporaryPath), deb: deb)
    }
}
