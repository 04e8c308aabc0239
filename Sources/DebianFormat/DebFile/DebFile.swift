#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A binary package (deb(5)): its control paragraph, checked against Debian's rules, and
/// the size and checksums of the whole file.
///
/// Reading makes one streaming pass over the file: every byte is hashed once (four digests
/// on two threads) while the ar structure is followed; only `debian-binary` and the control
/// archive are kept in memory, never the data member.
public struct DebFile: Sendable {
    /// Bounds on what a package may make Depot hold in memory.
    public struct Limits: Sendable {
        /// The `control.tar.*` member as stored in the ar archive.
        public var controlArchive: Int
        /// The `control` file inside it.
        public var controlFile: Int
        /// Everything in the control archive after decompression.
        public var controlArchiveExpansion: Int

        public init(controlArchive: Int, controlFile: Int, controlArchiveExpansion: Int) {
            self.controlArchive = controlArchive
            self.controlFile = controlFile
            self.controlArchiveExpansion = controlArchiveExpansion
        }

        /// Room for the largest control archives in Debian (md5sums of packages with
        /// hundreds of thousands of files) while stopping bombs early.
        public static let standard = Limits(
            controlArchive: 16 << 20, controlFile: 1 << 20, controlArchiveExpansion: 64 << 20)
    }

    public let control: Deb822Paragraph
    public let checksums: Checksums
    public let package: String
    public let version: DebianVersion
    public let architecture: String
    /// The source package: the `Source` field's name, else the package's own name.
    public let source: String
    /// The name of the control member, which tells its compression: `control.tar.xz`, ...
    public let controlMemberName: String
    public let dataMemberName: String

    /// Reads and checks the package at `path`. Errors name `path`. `bytesRead`, if given, sees
    /// every byte as it passes, so a caller can copy the file in the same pass.
    public static func read(
        path: String, limits: Limits = .standard, bytesRead: ((UnsafeRawBufferPointer) -> Void)? = nil
    ) throws(DebFileError) -> DebFile {
        func failure(_ problem: DebFileError.Problem) -> DebFileError {
            DebFileError(file: path, problem: problem)
        }
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw failure(.unreadable(systemErrorDescription(errno))) }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw failure(.unreadable(systemErrorDescription(errno))) }
        guard (status.st_mode & S_IFMT) == S_IFREG else { throw failure(.notARegularFile) }

        var reader = StreamingReader(limits: limits)
        // Small packages get a buffer of their own size: a megabyte for each of thousands of
        // small files fragments the heap.
        let chunkSize = min(1 << 20, max(4096, Int(status.st_size)))
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 64)
        defer { buffer.deallocate() }
        while true {
            let count = Glibc.read(descriptor, buffer.baseAddress, chunkSize)
            if count == 0 { break }
            if count < 0 {
                if errno == EINTR { continue }
                throw failure(.unreadable(systemErrorDescription(errno)))
            }
            let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<count])
            do {
                try reader.consume(chunk)
            } catch {
                throw failure(error)
            }
            bytesRead?(chunk)
        }
        do {
            return try reader.finish()
        } catch {
            throw failure(error)
        }
    }

    /// Reads a package held in memory; `name` is what errors call it.
    public static func read(bytes: [UInt8], name: String, limits: Limits = .standard) throws(DebFileError) -> DebFile {
        var reader = StreamingReader(limits: limits)
        do {
            try bytes.withUnsafeBytes { buffer in
                Result { () throws(DebFileError.Problem) in try reader.consume(buffer) }
            }.get()
            return try reader.finish()
        } catch {
            throw DebFileError(file: name, problem: error)
        }
    }

    /// Takes a package's bytes in pieces of any size, so that callers streaming from a file
    /// or a network body hash and check it as it arrives.
    public struct StreamingReader {
        private var scanner: ArMemberScanner
        private let hasher = ChecksumHasher()
        private let limits: Limits

        public init(limits: Limits = .standard) {
            self.limits = limits
            self.scanner = ArMemberScanner(controlArchiveLimit: limits.controlArchive)
        }

        public mutating func consume(_ bytes: UnsafeRawBufferPointer) throws(DebFileError.Problem) {
            hasher.update(bytes)
            try scanner.consume(bytes)
        }

        public mutating func finish() throws(DebFileError.Problem) -> DebFile {
            try scanner.finish()
            guard let controlMemberName = scanner.controlMemberName, let dataMemberName = scanner.dataMemberName else {
                throw .missingControlArchive(found: nil)
            }
            let text = try ControlArchive(
                memberName: controlMemberName, bytes: scanner.controlMember,
                controlFileLimit: limits.controlFile, expansionLimit: limits.controlArchiveExpansion
            ).controlText()
            let control = try Self.parseControl(text)
            return try DebFile(
                control: control, checksums: hasher.finalize(),
                controlMemberName: controlMemberName, dataMemberName: dataMemberName)
        }

        private static func parseControl(_ text: [UInt8]) throws(DebFileError.Problem) -> Deb822Paragraph {
            let document: Deb822Document
            do {
                document = try Deb822Document(parsing: text)
            } catch {
                throw .controlSyntax(error)
            }
            guard document.paragraphs.count == 1 else { throw .controlParagraphCount(document.paragraphs.count) }
            return document.paragraphs[0]
        }
    }

    init(
        control: Deb822Paragraph, checksums: Checksums, controlMemberName: String, dataMemberName: String
    ) throws(DebFileError.Problem) {
        func required(_ name: String) throws(DebFileError.Problem) -> String {
            guard let value = control[name], !value.isEmpty else { throw .missingField(name) }
            return value
        }
        func checked<T>(_ check: () throws(InvalidFieldValue) -> T) throws(DebFileError.Problem) -> T {
            do { return try check() } catch { throw .invalidValue(error) }
        }
        let package = try required("Package")
        try checked { () throws(InvalidFieldValue) in try PackageName.validate(package) }
        let versionText = try required("Version")
        version = try checked { () throws(InvalidFieldValue) in try DebianVersion(versionText) }
        let architecture = try required("Architecture")
        try checked { () throws(InvalidFieldValue) in try Architecture.validate(architecture) }
        let sourceField = control["Source"]
        source = try checked { () throws(InvalidFieldValue) in try Self.sourceName(sourceField) } ?? package
        try checked { () throws(InvalidFieldValue) in try Self.checkFieldsAptParses(of: control) }
        self.package = package
        self.architecture = architecture
        self.control = control
        self.checksums = checksums
        self.controlMemberName = controlMemberName
        self.dataMemberName = dataMemberName
    }

    /// The fields apt parses rather than copies, held to the rules dpkg-deb builds by: a
    /// value apt cannot parse makes it drop the whole index, for every client of the
    /// distribution.
    public static func checkFieldsAptParses(of control: Deb822Paragraph) throws(InvalidFieldValue) {
        for field in control.fields {
            let name = field.name.lowercased()
            if let rules = RelationshipList.binaryPackageFields[name] {
                do {
                    _ = try RelationshipList(parsing: field.value, rules: rules)
                } catch {
                    throw InvalidFieldValue(kind: "\(field.name) field", value: field.value, reason: error.reason)
                }
            } else if let allowed = enumeratedValues[name], !allowed.contains(field.value) {
                throw InvalidFieldValue(
                    kind: "\(field.name) field", value: field.value,
                    reason: "expected one of " + allowed.sorted().joined(separator: ", "))
            } else if name == "installed-size", field.value.isEmpty || !field.value.utf8.allSatisfy(isASCIIDigit) {
                throw InvalidFieldValue(
                    kind: "Installed-Size field", value: field.value, reason: "expected a size in KiB (digits only)")
            } else if name == "description", field.value.contains("\n\t") {
                // Policy §5.6.13; apt takes such a line for the end of the description.
                throw InvalidFieldValue(
                    kind: "Description field", value: field.value,
                    reason: "each line of the long description starts with a space, not a tab")
            } else if name == "description", field.value.first == "\n" {
                throw InvalidFieldValue(
                    kind: "Description field", value: field.value,
                    reason: "the first line, the synopsis, is empty (Policy §5.6.13)")
            } else if name == "phased-update-percentage" {
                throw InvalidFieldValue(
                    kind: "Phased-Update-Percentage field", value: field.value,
                    reason: "the archive phases an update, not the package: remove the field from the control file")
            } else if name == "description-md5",
                field.value.utf8.count != 32 || !field.value.utf8.allSatisfy(isASCIIHexDigit)
            {
                throw InvalidFieldValue(
                    kind: "Description-md5 field", value: field.value,
                    reason: "expected the MD5 of the description: 32 hexadecimal digits")
            }
        }
    }

    /// Fields whose value dpkg and apt take from a fixed set, spelt as apt expects it (apt
    /// warns of `Same` and ignores the field).
    private static let enumeratedValues: [String: Set<String>] = [
        "essential": ["yes", "no"], "protected": ["yes", "no"], "important": ["yes", "no"],
        "build-essential": ["yes", "no"], "multi-arch": ["no", "same", "foreign", "allowed"],
    ]

    /// The name in a `Source: name (version)` field, checked like a package name because it
    /// becomes a directory of the pool.
    private static func sourceName(_ field: String?) throws(InvalidFieldValue) -> String? {
        guard let field else { return nil }
        let parts = field.split(separator: " ", maxSplits: 1)
        guard let name = parts.first.map(String.init) else {
            throw InvalidFieldValue(kind: "source", value: field, reason: "the Source field is empty")
        }
        try PackageName.validate(name)
        if parts.count == 2 {
            let version = parts[1].trimmingCharacters(in: " ")
            guard version.hasPrefix("("), version.hasSuffix(")") else {
                throw InvalidFieldValue(kind: "source", value: field, reason: "expected 'name (version)'")
            }
            _ = try DebianVersion(String(version.dropFirst().dropLast()).trimmingCharacters(in: " "))
        }
        return name
    }
}

extension StringProtocol {
    func trimmingCharacters(in set: Character) -> String {
        var slice = Substring(self)
        while slice.first == set { slice.removeFirst() }
        while slice.last == set { slice.removeLast() }
        return String(slice)
    }
}

func systemErrorDescription(_ code: Int32) -> String {
    String(cString: strerror(code))
}
