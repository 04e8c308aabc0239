import CArchive

/// Reads the `control` file out of a `.deb`'s `control.tar[.gz|.xz|.zst]` member
/// with libarchive, refusing archives whose content is larger than the limits allow.
struct ControlArchive {
    typealias Problem = DebFileError.Problem

    let memberName: String
    let bytes: [UInt8]
    /// The most the `control` file may hold.
    let controlFileLimit: Int
    /// The most all entries together may expand to; a bomb stops here.
    let expansionLimit: Int

    func controlText() throws(Problem) -> [UInt8] {
        guard let expected = ArchiveCompression(memberName: memberName, base: "control.tar") else {
            throw .unknownCompression(member: memberName)
        }
        guard let archive = archive_read_new() else {
            throw .controlArchiveUnreadable(member: memberName, detail: "libarchive could not start")
        }
        defer { archive_read_free(archive) }
        // Only the built-in decoders: never an external program.
        archive_read_support_filter_gzip(archive)
        archive_read_support_filter_xz(archive)
        archive_read_support_filter_zstd(archive)
        archive_read_support_format_tar(archive)

        let result = bytes.withUnsafeBytes { buffer in
            Result { () throws(Problem) in try readControl(archive, from: buffer, expected: expected) }
        }
        return try result.get()
    }

    private func readControl(
        _ archive: OpaquePointer, from buffer: UnsafeRawBufferPointer, expected: ArchiveCompression
    ) throws(Problem) -> [UInt8] {
        guard archive_read_open_memory(archive, buffer.baseAddress, buffer.count) == ARCHIVE_OK else {
            throw unreadable(archive)
        }
        // libarchive picks the decompressor while opening, by looking at the content.
        try checkCompression(archive, expected: expected)
        var entry: OpaquePointer?
        var control: [UInt8]?
        var expanded = 0
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 16 * 1024, alignment: 16)
        defer { chunk.deallocate() }
        while true {
            let status = archive_read_next_header(archive, &entry)
            if status == ARCHIVE_EOF { break }
            guard status == ARCHIVE_OK || status == ARCHIVE_WARN, let entry else { throw unreadable(archive) }

            let isControl = isControlFile(entry)
            var content: [UInt8] = []
            while true {
                let count = archive_read_data(archive, chunk.baseAddress, chunk.count)
                if count == 0 { break }
                guard count > 0 else { throw unreadable(archive) }
                expanded += count
                guard expanded <= expansionLimit else {
                    throw .controlArchiveExpandsTooMuch(member: memberName, limit: expansionLimit)
                }
                if isControl {
                    content += UnsafeRawBufferPointer(rebasing: chunk[0..<count])
                    guard content.count <= controlFileLimit else { throw .controlFileTooLarge(limit: controlFileLimit) }
                }
            }
            if isControl { control = content }
        }
        guard let control else { throw .missingControlFile(member: memberName) }
        return control
    }

    private func isControlFile(_ entry: OpaquePointer) -> Bool {
        guard archive_entry_filetype(entry) == 0o100000, let path = archive_entry_pathname(entry) else { return false }
        let name = String(cString: path)
        return name == "control" || name == "./control"
    }

    private func checkCompression(_ archive: OpaquePointer, expected: ArchiveCompression) throws(Problem) {
        let detected: ArchiveCompression? =
            switch archive_filter_code(archive, 0) {
            case ARCHIVE_FILTER_NONE: ArchiveCompression.none
            case ARCHIVE_FILTER_GZIP: .gzip
            case ARCHIVE_FILTER_XZ: .xz
            case ARCHIVE_FILTER_ZSTD: .zstd
            default: nil
            }
        guard detected == expected else {
            let name = detected.map { $0 == .none ? "uncompressed" : "\($0)-compressed" } ?? "in another format"
            throw .compressionMismatch(member: memberName, detected: name)
        }
    }

    private func unreadable(_ archive: OpaquePointer) -> Problem {
        let detail = archive_error_string(archive).map { String(cString: $0) } ?? "unknown error"
        return .controlArchiveUnreadable(member: memberName, detail: detail)
    }
}
