import DebianFormat

#if canImport(Glibc)
    import Glibc
#endif

/// What a distribution's `Release` says about itself, apart from its index files.
public struct ReleaseInfo: Sendable, Hashable {
    public var origin: String
    public var label: String
    /// The distribution's name: `Suite` and `Codename` both.
    public var distribution: String
    public var description: String?
    public var architectures: [String]
    public var components: [String]
    /// Seconds after `Date` that clients should trust this file (`Valid-Until`).
    public var validFor: Int?

    public init(
        origin: String, label: String, distribution: String, description: String? = nil,
        architectures: [String], components: [String], validFor: Int? = nil
    ) {
        self.origin = origin
        self.label = label
        self.distribution = distribution
        self.description = description
        self.architectures = architectures
        self.components = components
        self.validFor = validFor
    }
}

/// One index file a `Release` lists: its path below `dists/<dist>/`, size and checksums.
public struct ReleaseEntry: Sendable, Hashable {
    public var path: String
    public var checksums: Checksums

    public init(path: String, checksums: Checksums) {
        self.path = path
        self.checksums = checksums
    }
}

/// The `Release` file (Debian Repository Format, "Release files").
public enum ReleaseFile {

    public static func render(_ info: ReleaseInfo, entries: [ReleaseEntry], date: Int) -> String {
        var paragraph = Deb822Paragraph([
            "Origin": info.origin,
            "Label": info.label,
            "Suite": info.distribution,
            "Codename": info.distribution,
            "Date": rfc2822(date),
        ])
        if let validFor = info.validFor { paragraph["Valid-Until"] = rfc2822(date + validFor) }
        paragraph["Architectures"] = info.architectures.joined(separator: " ")
        paragraph["Components"] = info.components.joined(separator: " ")
        if let description = info.description { paragraph["Description"] = description }
        paragraph["Acquire-By-Hash"] = "yes"
        let sizeWidth = String(entries.map(\.checksums.size).max() ?? 0).count
        for algorithm in HashAlgorithm.allCases {
            let lines = entries.map { entry in
                let size = String(entry.checksums.size)
                let padding = String(repeating: " ", count: sizeWidth - size.count)
                return " \(algorithm.digest(of: entry.checksums)) \(padding)\(size) \(entry.path)"
            }
            paragraph[algorithm.rawValue] = "\n" + lines.joined(separator: "\n")
        }
        return paragraph.rendered()
    }

    /// The text an `InRelease` signs (its signature not checked): the `Release` within, dash
    /// escapes (RFC 4880, 7.1) undone. Nil when it is not a clearsigned message.
    public static func signedText(ofClearsigned text: String) -> String? {
        guard text.hasPrefix("-----BEGIN PGP SIGNED MESSAGE-----\n"),
            let headersEnd = text.range(of: "\n\n"),
            let signature = text.range(of: "\n-----BEGIN PGP SIGNATURE-----", range: headersEnd.upperBound..<text.endIndex)
        else { return nil }
        return text[headersEnd.upperBound..<signature.lowerBound].split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.hasPrefix("- ") ? $0.dropFirst(2) : $0 }.joined(separator: "\n") + "\n"
    }

    /// The entries of a rendered `Release`, read back: what by-hash files it promises.
    public static func entries(of text: String) -> [(algorithm: HashAlgorithm, hash: String, size: Int64, path: String)]
    {
        guard let paragraph = try? Deb822Document(parsing: text).paragraphs.first else { return [] }
        var result: [(HashAlgorithm, String, Int64, String)] = []
        for algorithm in HashAlgorithm.allCases {
            for line in paragraph.field(named: algorithm.rawValue)?.lines.dropFirst() ?? [] {
                let parts = line.split(separator: " ", omittingEmptySubsequences: true)
                if parts.count == 3, let size = Int64(parts[1]) {
                    result.append((algorithm, String(parts[0]), size, String(parts[2])))
                }
            }
        }
        return result
    }

    /// RFC 2822 date in UTC, as apt expects: `Sun, 22 Nov 2026 20:20:08 UTC`.
    public static func rfc2822(_ secondsSinceEpoch: Int) -> String {
        var time = time_t(secondsSinceEpoch)
        var parts = tm()
        gmtime_r(&time, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return
            "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) UTC"
    }
}

/// The checksums a `Release` lists, weakest first; each names its field and its `by-hash/`
/// folder.
public enum HashAlgorithm: String, CaseIterable, Sendable {
    case md5 = "MD5Sum"
    case sha1 = "SHA1"
    case sha256 = "SHA256"
    case sha512 = "SHA512"

    public func digest(of checksums: Checksums) -> String {
        switch self {
        case .md5: checksums.md5
        case .sha1: checksums.sha1
        case .sha256: checksums.sha256
        case .sha512: checksums.sha512
        }
    }
}
