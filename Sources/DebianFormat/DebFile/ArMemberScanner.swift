/// Follows the ar container of a `.deb` (deb(5)) as its bytes stream past, checking the
/// member order and keeping only the small members: `debian-binary` and `control.tar.*`.
/// The data member is never held, so memory does not grow with the package.
///
/// ar: the signature `!<arch>\n`, then per member a 60-byte header (name 16, mtime 12,
/// uid 6, gid 6, mode 8, size 10, then "`\n") and the content, padded to an even length.
struct ArMemberScanner {
    typealias Problem = DebFileError.Problem

    static let signature = Array("!<arch>\n".utf8)
    static let headerSize = 60

    let controlArchiveLimit: Int

    private enum Stage { case signature, header, content, padding, done }
    private enum Role { case debianBinary, ignored, control, data }

    private var stage = Stage.signature
    private var pending: [UInt8] = []
    private var offset: Int64 = 0
    private var memberName = ""
    private var memberRole = Role.ignored
    private var memberRemaining: Int64 = 0
    private var memberSize: Int64 = 0
    private var memberCount = 0

    private(set) var debianBinary: [UInt8] = []
    private(set) var controlMemberName: String?
    private(set) var controlMember: [UInt8] = []
    private(set) var dataMemberName: String?

    init(controlArchiveLimit: Int) {
        self.controlArchiveLimit = controlArchiveLimit
    }

    mutating func consume(_ chunk: UnsafeRawBufferPointer) throws(Problem) {
        var bytes = chunk[...]
        while !bytes.isEmpty && stage != .done {
            switch stage {
            case .signature:
                let needed = Self.signature.count - pending.count
                pending += bytes.prefix(needed)
                bytes = bytes.dropFirst(needed)
                if pending.count == Self.signature.count {
                    guard pending == Self.signature else { throw .notAnArArchive }
                    pending.removeAll()
                    offset = Int64(Self.signature.count)
                    stage = .header
                } else if !Self.signature.starts(with: pending) {
                    throw .notAnArArchive
                }
            case .header:
                let needed = Self.headerSize - pending.count
                pending += bytes.prefix(needed)
                bytes = bytes.dropFirst(needed)
                if pending.count == Self.headerSize {
                    try beginMember(header: pending)
                    pending.removeAll()
                }
            case .content:
                let taken = bytes.prefix(Int(clamping: memberRemaining))
                bytes = bytes.dropFirst(taken.count)
                memberRemaining -= Int64(taken.count)
                offset += Int64(taken.count)
                switch memberRole {
                case .debianBinary: debianBinary += taken
                case .control: controlMember += taken
                case .ignored, .data: break
                }
                if memberRemaining == 0 { try endMember() }
            case .padding:
                bytes = bytes.dropFirst()
                offset += 1
                stage = .header
            case .done:
                break
            }
        }
    }

    /// Called at the end of the file: reports what is missing or cut short.
    mutating func finish() throws(Problem) {
        switch stage {
        case .signature:
            throw pending.isEmpty ? .empty : .notAnArArchive
        case .content:
            throw .truncated(member: memberName, expected: memberSize, found: memberSize - memberRemaining)
        case .header where !pending.isEmpty:
            throw .truncated(
                member: "(ar member header)", expected: Int64(Self.headerSize), found: Int64(pending.count))
        case .header, .padding, .done:
            break
        }
        if memberCount == 0 { throw .notADebianPackage(firstMember: "(none)") }
        if controlMemberName == nil { throw .missingControlArchive(found: nil) }
        if dataMemberName == nil { throw .missingDataArchive(found: nil) }
    }

    private mutating func beginMember(header: [UInt8]) throws(Problem) {
        let headerOffset = offset
        offset += Int64(Self.headerSize)
        guard header[58] == UInt8(ascii: "`"), header[59] == UInt8(ascii: "\n") else {
            throw .malformedArHeader(offset: headerOffset, detail: "the header does not end with \"`\\n\"")
        }
        var name = Self.field(header, 0..<16)
        if name.hasSuffix("/") { name.removeLast() }
        let sizeText = Self.field(header, 48..<58)
        guard !sizeText.isEmpty, sizeText.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let size = Int64(sizeText)
        else {
            throw .malformedArHeader(offset: headerOffset, detail: "member size '\(sizeText)' is not a number")
        }
        memberName = name
        memberSize = size
        memberRemaining = size
        memberCount += 1
        memberRole = try role(of: name, size: size)
        stage = .content
        if size == 0 { try endMember() }
    }

    /// A space-padded field of an ar header, without its padding.
    private static func field(_ header: [UInt8], _ range: Range<Int>) -> String {
        var end = range.upperBound
        while end > range.lowerBound, header[end - 1] == UInt8(ascii: " ") { end -= 1 }
        return String(decoding: header[range.lowerBound..<end], as: UTF8.self)
    }

    private func role(of name: String, size: Int64) throws(Problem) -> Role {
        if memberCount == 1 {
            guard name == "debian-binary" else { throw .notADebianPackage(firstMember: name) }
            guard size <= 64 else { throw .unsupportedFormatVersion("(\(size) bytes)") }
            return .debianBinary
        }
        // deb(5): members between the required ones whose names start with '_' are ignored.
        if name.hasPrefix("_") { return .ignored }
        if controlMemberName == nil {
            guard name.hasPrefix("control.tar") else { throw .missingControlArchive(found: name) }
            guard let compression = ArchiveCompression(memberName: name, base: "control.tar"),
                compression.isAllowedForControl
            else {
                throw .unknownCompression(member: name)
            }
            guard size <= controlArchiveLimit else {
                throw .controlArchiveTooLarge(member: name, size: size, limit: controlArchiveLimit)
            }
            return .control
        }
        guard name.hasPrefix("data.tar") else { throw .missingDataArchive(found: name) }
        guard ArchiveCompression(memberName: name, base: "data.tar") != nil else {
            throw .unknownCompression(member: name)
        }
        return .data
    }

    private mutating func endMember() throws(Problem) {
        switch memberRole {
        case .debianBinary: try checkFormatVersion()
        case .control: controlMemberName = memberName
        case .data: dataMemberName = memberName
        case .ignored: break
        }
        // After the data member nothing more is needed; the rest is only hashed.
        stage = memberRole == .data ? .done : (memberSize % 2 == 1 ? .padding : .header)
    }

    private func checkFormatVersion() throws(Problem) {
        let text = String(decoding: debianBinary, as: UTF8.self)
        let version = text.hasSuffix("\n") ? String(text.dropLast()) : text
        let parts = version.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0] == "2", !parts[1].isEmpty, parts[1].allSatisfy(\.isASCIIDigit) else {
            throw .unsupportedFormatVersion(version)
        }
    }
}

/// The compressions dpkg reads in the tar members of a `.deb`, known by the member name's
/// suffix (deb(5)): all of them for `data.tar`; for `control.tar` only none, gzip, xz and
/// zstd, since dpkg refuses the others there.
enum ArchiveCompression: String, Sendable {
    case none = ""
    case gzip = ".gz"
    case xz = ".xz"
    case zstd = ".zst"
    case bzip2 = ".bz2"
    case lzma = ".lzma"

    var isAllowedForControl: Bool {
        self == .none || self == .gzip || self == .xz || self == .zstd
    }

    init?(memberName: String, base: String) {
        guard memberName.hasPrefix(base) else { return nil }
        self.init(rawValue: String(memberName.dropFirst(base.count)))
    }
}
