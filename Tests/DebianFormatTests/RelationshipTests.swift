import DebianFormat
import DepotTestSupport
import Testing

@Suite struct RelationshipTests {
    @Test func parsesAlternativesConstraintsAndQualifiers() throws {
        let list = try RelationshipList(
            parsing:
                "libc6 (>= 2.34), libfoo1 | libbar1 (<< 2:1.0~), python3:any,\n foo [amd64 !i386] <!nocheck> <stage1 cross>"
        )
        #expect(list.requirements.count == 4)
        #expect(list.requirements[0][0].package == "libc6")
        #expect(list.requirements[0][0].version == .init(.laterOrEqual, try DebianVersion("2.34")))
        #expect(list.requirements[1].map(\.package) == ["libfoo1", "libbar1"])
        #expect(list.requirements[1][1].version?.relation == .earlier)
        #expect(list.requirements[2][0].architectureQualifier == "any")
        let restricted = list.requirements[3][0]
        #expect(restricted.architectures == [.init("amd64"), .init("i386", isNegated: true)])
        #expect(restricted.buildProfiles == [["!nocheck"], ["stage1", "cross"]])
        #expect(
            list.description
                == "libc6 (>= 2.34), libfoo1 | libbar1 (<< 2:1.0~), python3:any, foo [amd64 !i386] <!nocheck> <stage1 cross>"
        )
    }

    @Test func acceptsFreeWhitespaceAndTheObsoleteOperators() throws {
        let list = try RelationshipList(parsing: "  aa(>=1.0)|bb ( < 2 ) ,cc (>3)  ")
        #expect(list.description == "aa (>= 1.0) | bb (<= 2), cc (>= 3)")
        #expect(try RelationshipList(parsing: "").requirements.isEmpty)
    }

    @Test func checksVersionConstraints() throws {
        let relationship = try RelationshipList(parsing: "snowbird (>= 1.4~)").requirements[0][0]
        #expect(relationship.isSatisfied(by: try DebianVersion("1.4")))
        #expect(relationship.isSatisfied(by: try DebianVersion("1.4~rc1")))
        #expect(!relationship.isSatisfied(by: try DebianVersion("1.3.9")))
        let unversioned = try RelationshipList(parsing: "snowbird").requirements[0][0]
        #expect(unversioned.isSatisfied(by: try DebianVersion("0.1")))
    }

    @Test(arguments: [
        "aa,, bb", "aa (>= )", "aa (~= 1.0)", "aa (>= 1.0", "Upper", "aa [", "aa [amd64", "aa <", "aa | , bb",
        "aa bb", "aa (>= 1.0) extra", ",", "aa:", "../x", "a",
    ])
    func rejectsMalformedFields(text: String) {
        #expect(throws: InvalidFieldValue.self) { try RelationshipList(parsing: text) }
    }

    /// What dpkg-deb refuses to build, or apt to parse, in a binary package's fields.
    @Test(arguments: [
        ("Depends", "epo (>= 9"), ("Depends", "epo (>= 9), ,, | zz, $$$"), ("Depends", "aa,"),
        ("Depends", "aa [amd64]"), ("Depends", "aa <!nocheck>"), ("Depends", "aa:Any"), ("Suggests", "aa: bb (<< 2)"),
        ("Depends", "aa (1.0)"),
        ("Depends", "aa (>= 1.0 2)"), ("Depends", "aa (>= ${binary:Version})"), ("Conflicts", "aa | bb"),
        ("Breaks", "aa | bb"), ("Replaces", "aa | bb"), ("Provides", "aa | bb"), ("Provides", "aa (>= 1.0)"),
        ("Built-Using", "gcc-12 (>= 12.2)"),
    ])
    func refusesWhatABinaryPackageMayNotSay(field: String, value: String) {
        let rules = RelationshipList.binaryPackageFields[field.lowercased()]!
        #expect(throws: InvalidFieldValue.self, "\(field): \(value)") {
            try RelationshipList(parsing: value, rules: rules)
        }
    }

    @Test func acceptsWhatBinaryPackagesSay() throws {
        let cases = [
            ("Depends", "libc6 (>= 2.34), python3:any | python3-minimal, foo:native (<< 2:1.0~)"),
            ("Pre-Depends", "dpkg (>= 1.15.6~)"), ("Conflicts", "aa (<< 1), bb"), ("Provides", "aa (= 1.0), bb"),
            ("Built-Using", "gcc-12 (= 12.2.0-14)"), ("Depends", "aa (> 1), bb (< 2)"),
        ]
        for (field, value) in cases {
            _ = try RelationshipList(parsing: value, rules: RelationshipList.binaryPackageFields[field.lowercased()]!)
        }
    }

    @Test(
        .enabled(if: TestSupport.debianIndexPath != nil, "no Debian index in /var/lib/apt/lists (run apt-get update)"))
    func everyRelationshipInDebiansIndexParsesAndWritesBack() throws {
        let index = try #require(try TestSupport.debianIndex())
        let document = try Deb822Document(parsing: [UInt8](index))
        var parsed = 0
        var spelledCanonically = 0
        for paragraph in document.paragraphs {
            for (name, rules) in RelationshipList.binaryPackageFields {
                guard let value = paragraph[name] else { continue }
                // The rules a push applies accept every package Debian ships.
                let list = try RelationshipList(parsing: value, rules: rules)
                #expect(try RelationshipList(parsing: list.description) == list)
                parsed += 1
                if list.description == value { spelledCanonically += 1 }
            }
        }
        #expect(parsed > 10_000)
        // Debian's archive writes relationships in the canonical spelling almost always.
        #expect(Double(spelledCanonically) / Double(parsed) > 0.99)
    }
}

@Suite struct NameTests {
    @Test(arguments: ["hello", "libc6", "g++", "lib32stdc++6", "0ad", "python3.11", "a-b.c+d"])
    func acceptsPolicyPackageNames(name: String) throws {
        try PackageName.validate(name)
    }

    @Test(arguments: ["Upper_Case", "../x", "a", "", "-dash", ".hidden", "has space", "a/b", "ünï", "foo_bar"])
    func rejectsOtherPackageNames(name: String) {
        #expect(throws: InvalidFieldValue.self) { try PackageName.validate(name) }
    }

    @Test func architectures() throws {
        for name in ["amd64", "arm64", "all", "i386", "ppc64el", "kfreebsd-amd64"] { try Architecture.validate(name) }
        for name in ["", "AMD64", "any", "linux-any", "-x", "amd 64", "../x"] {
            #expect(throws: InvalidFieldValue.self) { try Architecture.validate(name) }
        }
        try Architecture.validate("linux-any", allowWildcards: true)
    }
}
