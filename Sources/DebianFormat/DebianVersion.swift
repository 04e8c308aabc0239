/// A Debian package version, `[epoch:]upstream_version[-debian_revision]`, as described in
/// Debian Policy §5.6.12 and deb-version(7).
///
/// Equality and ordering are dpkg's: `1.0` equals `1.00` and `0:1.0`, `~` sorts before
/// everything, even the end of the string. The text is kept as it was written.
public struct DebianVersion: Sendable, CustomStringConvertible, Comparable, Hashable {
    public let epoch: UInt32
    public let upstream: String
    /// The part after the last hyphen, or "" when the version has none.
    public let revision: String
    /// The version exactly as written.
    public let description: String

    /// Parses a version, enforcing the rules dpkg and Policy apply to what goes into an
    /// archive: a numeric epoch, an upstream part that starts with a digit, and only the
    /// characters Policy allows in each part.
    public init(_ text: String) throws(InvalidFieldValue) {
        func invalid(_ reason: String) -> InvalidFieldValue {
            InvalidFieldValue(kind: "version", value: text, reason: reason)
        }
        guard !text.isEmpty else { throw invalid("the version is empty") }
        guard !text.contains(where: { $0.isWhitespace }) else { throw invalid("a version contains no spaces") }

        var rest = Substring(text)
        var epoch: UInt32 = 0
        if let colon = rest.firstIndex(of: ":") {
            let epochText = rest[..<colon]
            guard !epochText.isEmpty else { throw invalid("the epoch before ':' is empty") }
            guard epochText.allSatisfy(\.isASCIIDigit) else { throw invalid("the epoch before ':' is not a number") }
            guard let value = UInt32(epochText), value <= Int32.max else { throw invalid("the epoch is too big") }
            epoch = value
            rest = rest[rest.index(after: colon)...]
        }
        var revision: Substring = ""
        if let hyphen = rest.lastIndex(of: "-") {
            revision = rest[rest.index(after: hyphen)...]
            rest = rest[..<hyphen]
            guard !revision.isEmpty else { throw invalid("the revision after the last '-' is empty") }
        }
        guard let first = rest.first else { throw invalid("the upstream version is empty") }
        guard first.isASCIIDigit else { throw invalid("the upstream version must start with a digit") }
        if let bad = rest.first(where: { !($0.isASCIIAlphanumeric || ".+~-:".contains($0)) }) {
            throw invalid("'\(bad)' is not allowed in the upstream version")
        }
        if let bad = revision.first(where: { !($0.isASCIIAlphanumeric || ".+~".contains($0)) }) {
            throw invalid("'\(bad)' is not allowed in the revision")
        }
        self.epoch = epoch
        self.upstream = String(rest)
        self.revision = String(revision)
        self.description = text
    }

    /// The version without its epoch: what goes into a pool file's name.
    public var withoutEpoch: String {
        revision.isEmpty ? upstream : upstream + "-" + revision
    }

    /// Compares two versions exactly as `dpkg --compare-versions` does: negative, zero or
    /// positive.
    public static func compare(_ lhs: DebianVersion, _ rhs: DebianVersion) -> Int {
        if lhs.epoch != rhs.epoch { return lhs.epoch < rhs.epoch ? -1 : 1 }
        let upstream = compareParts(lhs.upstream, rhs.upstream)
        if upstream != 0 { return upstream }
        return compareParts(lhs.revision, rhs.revision)
    }

    public static func < (lhs: DebianVersion, rhs: DebianVersion) -> Bool {
        compare(lhs, rhs) < 0
    }

    public static func == (lhs: DebianVersion, rhs: DebianVersion) -> Bool {
        compare(lhs, rhs) == 0
    }

    /// Hashes a canonical form, so that versions dpkg calls equal (`1.0`, `1.00`, `0:1.0-0`)
    /// hash alike: digit runs lose their leading zeros.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(epoch)
        hasher.combine(Self.canonical(upstream))
        hasher.combine(Self.canonical(revision))
    }

    private static func canonical(_ part: String) -> [UInt8] {
        var result: [UInt8] = []
        var atDigitRunStart = true
        for byte in part.utf8 {
            let isDigit = byte >= 0x30 && byte <= 0x39
            if isDigit && atDigitRunStart && byte == 0x30 { continue }
            atDigitRunStart = !isDigit
            result.append(byte)
        }
        return result
    }

    /// dpkg's `verrevcmp` (lib/dpkg/version.c): alternate runs of non-digits, compared
    /// character by character with `~` lowest and letters before other symbols, and runs of
    /// digits, compared as numbers.
    static func compareParts(_ lhs: String, _ rhs: String) -> Int {
        var lhs = lhs
        var rhs = rhs
        return lhs.withUTF8 { a in rhs.withUTF8 { b in compareParts(a, b) } }
    }

    private static func compareParts(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Int {
        var i = 0
        var j = 0
        func at(_ buffer: UnsafeBufferPointer<UInt8>, _ index: Int) -> UInt8 {
            index < buffer.count ? buffer[index] : 0
        }
        func order(_ byte: UInt8) -> Int {
            if isASCIIDigit(byte) || byte == 0 { return 0 }
            if (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) { return Int(byte) }
            if byte == UInt8(ascii: "~") { return -1 }
            return Int(byte) + 256
        }
        while i < a.count || j < b.count {
            while (i < a.count && !isASCIIDigit(a[i])) || (j < b.count && !isASCIIDigit(b[j])) {
                let difference = order(at(a, i)) - order(at(b, j))
                if difference != 0 { return difference }
                i += 1
                j += 1
            }
            while at(a, i) == 0x30 { i += 1 }
            while at(b, j) == 0x30 { j += 1 }
            var firstDifference = 0
            while isASCIIDigit(at(a, i)) && isASCIIDigit(at(b, j)) {
                if firstDifference == 0 { firstDifference = Int(a[i]) - Int(b[j]) }
                i += 1
                j += 1
            }
            if isASCIIDigit(at(a, i)) { return 1 }
            if isASCIIDigit(at(b, j)) { return -1 }
            if firstDifference != 0 { return firstDifference }
        }
        return 0
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
    var isASCIIAlphanumeric: Bool { isASCII && (isLetter || isNumber) }
}
