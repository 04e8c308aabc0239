/// The value of a relationship field (`Depends`, `Pre-Depends`, `Recommends`, `Suggests`,
/// `Enhances`, `Breaks`, `Conflicts`, `Replaces`, `Provides`, `Built-Using`, ...): a
/// comma-separated list of requirements, each a `|`-separated list of alternatives
/// (Debian Policy §7.1, deb-control(5)).
public struct RelationshipList: Sendable, Hashable, CustomStringConvertible {
    public var requirements: [[Relationship]]

    public init(_ requirements: [[Relationship]]) {
        self.requirements = requirements
    }

    /// What a relationship field may hold.
    public struct Rules: Sendable, Hashable {
        /// `a | b`: not in the fields that name what a package replaces or must not meet.
        public var allowsAlternatives: Bool
        /// `[amd64]` and `<!nocheck>`: only in a source package's build relationships.
        public var allowsRestrictions: Bool
        /// Only `(= VERSION)`, as in `Provides` (apt drops the whole index otherwise).
        public var allowsOnlyEquals: Bool

        public init(allowsAlternatives: Bool, allowsRestrictions: Bool, allowsOnlyEquals: Bool) {
            self.allowsAlternatives = allowsAlternatives
            self.allowsRestrictions = allowsRestrictions
            self.allowsOnlyEquals = allowsOnlyEquals
        }

        /// Anything the syntax allows: what source packages and build relationships use.
        public static let any = Rules(allowsAlternatives: true, allowsRestrictions: true, allowsOnlyEquals: false)
    }

    /// The relationship fields of a binary package's control file, by lower-cased name, and
    /// what dpkg (`lib/dpkg/fields.c`) and apt accept in each.
    public static let binaryPackageFields: [String: Rules] = {
        let requiring = Rules(allowsAlternatives: true, allowsRestrictions: false, allowsOnlyEquals: false)
        let excluding = Rules(allowsAlternatives: false, allowsRestrictions: false, allowsOnlyEquals: false)
        let built = Rules(allowsAlternatives: false, allowsRestrictions: false, allowsOnlyEquals: true)
        return [
            "depends": requiring, "pre-depends": requiring, "recommends": requiring, "suggests": requiring,
            "enhances": requiring, "breaks": excluding, "conflicts": excluding, "replaces": excluding,
            "provides": built, "built-using": built, "static-built-using": built,
        ]
    }()

    /// Parses a field value. Whitespace, including the line breaks of continuation lines, is
    /// allowed between all tokens. The obsolete operators `<` and `>` are read as `<=`
    /// and `>=`, as dpkg does.
    public init(parsing text: String, rules: Rules = .any) throws(InvalidFieldValue) {
        var scanner = RelationshipScanner(text: text, rules: rules)
        requirements = try scanner.parseList()
    }

    /// The canonical spelling: `a (>= 1.0) | b:any [amd64] <!nocheck>, c`.
    public var description: String {
        requirements.map { $0.map(\.description).joined(separator: " | ") }.joined(separator: ", ")
    }
}

/// One package named in a relationship field, with its optional qualifiers.
public struct Relationship: Sendable, Hashable, CustomStringConvertible {
    public enum Operator: String, Sendable, Hashable, CaseIterable {
        case earlier = "<<"
        case earlierOrEqual = "<="
        case equal = "="
        case laterOrEqual = ">="
        case later = ">>"

        public func holds(for candidate: DebianVersion, against required: DebianVersion) -> Bool {
            let order = DebianVersion.compare(candidate, required)
            switch self {
            case .earlier: return order < 0
            case .earlierOrEqual: return order <= 0
            case .equal: return order == 0
            case .laterOrEqual: return order >= 0
            case .later: return order > 0
            }
        }
    }

    public struct VersionConstraint: Sendable, Hashable {
        public var relation: Operator
        public var version: DebianVersion

        public init(_ relation: Operator, _ version: DebianVersion) {
            self.relation = relation
            self.version = version
        }
    }

    /// An entry of an architecture restriction list, `[amd64 !i386]`.
    public struct ArchitectureRestriction: Sendable, Hashable {
        public var architecture: String
        public var isNegated: Bool

        public init(_ architecture: String, isNegated: Bool = false) {
            self.architecture = architecture
            self.isNegated = isNegated
        }
    }

    public var package: String
    /// `any`, `native` or an architecture after a colon: `python3:any`.
    public var architectureQualifier: String?
    public var version: VersionConstraint?
    public var architectures: [ArchitectureRestriction]
    /// Each `<...>` group of build-profile terms, in order; a term may start with `!`.
    public var buildProfiles: [[String]]

    public init(
        package: String, architectureQualifier: String? = nil, version: VersionConstraint? = nil,
        architectures: [ArchitectureRestriction] = [], buildProfiles: [[String]] = []
    ) {
        self.package = package
        self.architectureQualifier = architectureQualifier
        self.version = version
        self.architectures = architectures
        self.buildProfiles = buildProfiles
    }

    /// Whether a package of this name at `candidate` meets the version constraint.
    public func isSatisfied(by candidate: DebianVersion) -> Bool {
        guard let version else { return true }
        return version.relation.holds(for: candidate, against: version.version)
    }

    public var description: String {
        var text = package
        if let architectureQualifier { text += ":" + architectureQualifier }
        if let version { text += " (\(version.relation.rawValue) \(version.version))" }
        if !architectures.isEmpty {
            text +=
                " [" + architectures.map { ($0.isNegated ? "!" : "") + $0.architecture }.joined(separator: " ") + "]"
        }
        for group in buildProfiles { text += " <" + group.joined(separator: " ") + ">" }
        return text
    }
}

/// A byte cursor over a relationship field.
private struct RelationshipScanner {
    let text: String
    let bytes: [UInt8]
    let rules: RelationshipList.Rules
    var position = 0

    init(text: String, rules: RelationshipList.Rules) {
        self.text = text
        self.bytes = Array(text.utf8)
        self.rules = rules
    }

    private var current: UInt8? { position < bytes.count ? bytes[position] : nil }

    private func invalid(_ reason: String) -> InvalidFieldValue {
        InvalidFieldValue(kind: "relationship", value: text, reason: reason)
    }

    private mutating func skipWhitespace() {
        while let byte = current, byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { position += 1 }
    }

    private mutating func consume(_ character: Character) -> Bool {
        skipWhitespace()
        guard let byte = current, byte == character.asciiValue else { return false }
        position += 1
        return true
    }

    /// Reads a word up to whitespace or one of the given delimiters.
    private mutating func word(endingAt delimiters: String) -> String {
        skipWhitespace()
        let start = position
        let stops = Set(delimiters.utf8)
        while let byte = current,
            !(byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D || stops.contains(byte))
        {
            position += 1
        }
        return String(decoding: bytes[start..<position], as: UTF8.self)
    }

    mutating func parseList() throws(InvalidFieldValue) -> [[Relationship]] {
        var requirements: [[Relationship]] = []
        skipWhitespace()
        if current == nil { return [] }
        repeat {
            var alternatives: [Relationship] = []
            repeat {
                if !alternatives.isEmpty && !rules.allowsAlternatives {
                    throw invalid("alternatives ('|') are not allowed in this field")
                }
                alternatives.append(try parseRelationship())
            } while consume("|")
            requirements.append(alternatives)
        } while consume(",")
        skipWhitespace()
        if let byte = current {
            throw invalid("unexpected '\(Character(Unicode.Scalar(byte)))' after '\(requirements.last!.last!)'")
        }
        return requirements
    }

    private mutating func parseRelationship() throws(InvalidFieldValue) -> Relationship {
        let package = word(endingAt: ":(,|[<")
        guard !package.isEmpty else { throw invalid("a package name is missing") }
        do {
            try PackageName.validate(package)
        } catch {
            throw invalid(error.description)
        }
        var relationship = Relationship(package: package)

        if current == UInt8(ascii: ":") {
            position += 1
            // Right after the colon, as dpkg and apt read it: `a: b` is not `a:b`.
            guard let next = current, next != 0x20, next != 0x09, next != 0x0A, next != 0x0D else {
                throw invalid("an architecture qualifier is missing after '\(package):'")
            }
            let qualifier = word(endingAt: "(,|[<")
            guard !qualifier.isEmpty else { throw invalid("an architecture qualifier is missing after '\(package):'") }
            do {
                try Architecture.validate(qualifier, allowWildcards: true)
            } catch {
                throw invalid(error.description)
            }
            relationship.architectureQualifier = qualifier
        }
        if consume("(") {
            skipWhitespace()
            let operatorText = word(endingAt: "0123456789)")
            let relation: Relationship.Operator
            switch operatorText {
            case "<": relation = .earlierOrEqual
            case ">": relation = .laterOrEqual
            default:
                guard let known = Relationship.Operator(rawValue: operatorText) else {
                    throw invalid("unknown version relation '\(operatorText)' for \(package) (use <<, <=, =, >= or >>)")
                }
                relation = known
            }
            if rules.allowsOnlyEquals && relation != .equal {
                throw invalid("only an exact version '(= VERSION)' is allowed in this field, not '\(operatorText)'")
            }
            let versionText = word(endingAt: ")")
            guard consume(")") else { throw invalid("a ')' is missing after the version for \(package)") }
            do {
                relationship.version = .init(relation, try DebianVersion(versionText))
            } catch {
                throw invalid(error.description)
            }
        }
        skipWhitespace()
        if !rules.allowsRestrictions, let byte = current, byte == UInt8(ascii: "[") || byte == UInt8(ascii: "<") {
            throw invalid(
                "architecture restrictions '[...]' and build profiles '<...>' belong to source packages, not to \(package) in a binary package"
            )
        }
        if consume("[") {
            while !consume("]") {
                guard current != nil else { throw invalid("a ']' is missing in the architectures of \(package)") }
                var name = word(endingAt: "]")
                let isNegated = name.hasPrefix("!")
                if isNegated { name.removeFirst() }
                do {
                    try Architecture.validate(name, allowWildcards: true)
                } catch {
                    throw invalid(error.description)
                }
                relationship.architectures.append(.init(name, isNegated: isNegated))
            }
            guard !relationship.architectures.isEmpty else { throw invalid("empty architecture list for \(package)") }
        }
        while consume("<") {
            var group: [String] = []
            while !consume(">") {
                guard current != nil else { throw invalid("a '>' is missing in the build profiles of \(package)") }
                group.append(word(endingAt: ">"))
            }
            guard !group.isEmpty else { throw invalid("empty build profile list for \(package)") }
            relationship.buildProfiles.append(group)
        }
        return relationship
    }
}
