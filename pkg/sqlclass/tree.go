package sqlclass

import (
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// maxDepth bounds the recursion of the walk. The parser refuses deeper
// trees long before; a tree deeper than this is classified unparseable.
const maxDepth = 20000

// msgInfo is what the walk needs to know about a message type.
type msgInfo struct {
	fields []protoreflect.FieldDescriptor // fields holding messages
	isStmt bool                           // a statement node (name ends in "Stmt")
}

var (
	msgInfos  = map[protoreflect.MessageDescriptor]*msgInfo{}
	nodeOneof protoreflect.OneofDescriptor
)

func init() {
	var add func(mds protoreflect.MessageDescriptors)
	add = func(mds protoreflect.MessageDescriptors) {
		for i := 0; i < mds.Len(); i++ {
			md := mds.Get(i)
			info := &msgInfo{isStmt: strings.HasSuffix(string(md.Name()), "Stmt")}
			fds := md.Fields()
			for j := 0; j < fds.Len(); j++ {
				fd := fds.Get(j)
				if fd.Kind() == protoreflect.MessageKind && !fd.IsMap() {
					info.fields = append(info.fields, fd)
				}
			}
			msgInfos[md] = info
			add(md.Messages())
		}
	}
	add(pg_query.File_pg_query_proto.Messages())
	nodeOneof = (&pg_query.Node{}).ProtoReflect().Descriptor().Oneofs().ByName("node")
}

// skipMask returns the bit mask of the named fields of m, for children.
func skipMask(m protoreflect.ProtoMessage, names ...protoreflect.Name) uint64 {
	var mask uint64
	fds := m.ProtoReflect().Descriptor().Fields()
	for _, n := range names {
		fd := fds.ByName(n)
		if fd == nil || fd.Number() >= 64 {
			panic("sqlclass: no field " + string(n)) // programming error, found at init
		}
		mask |= 1 << uint(fd.Number())
	}
	return mask
}

var (
	skipSelect   = skipMask(&pg_query.SelectStmt{}, "with_clause", "into_clause", "locking_clause")
	skipInsert   = skipMask(&pg_query.InsertStmt{}, "with_clause", "relation")
	skipUpdate   = skipMask(&pg_query.UpdateStmt{}, "with_clause", "relation")
	skipDelete   = skipMask(&pg_query.DeleteStmt{}, "with_clause", "relation")
	skipMerge    = skipMask(&pg_query.MergeStmt{}, "with_clause", "relation")
	skipCopy     = skipMask(&pg_query.CopyStmt{}, "relation")
	skipInto     = skipMask(&pg_query.IntoClause{}, "rel")
	skipCTE      = skipMask(&pg_query.CommonTableExpr{}, "ctequery")
	skipCreate   = skipMask(&pg_query.CreateStmt{}, "relation", "inh_relations")
	skipView     = skipMask(&pg_query.ViewStmt{}, "view", "query")
	skipSeq      = skipMask(&pg_query.CreateSeqStmt{}, "sequence")
	skipCompType = skipMask(&pg_query.CompositeTypeStmt{}, "typevar")
	skipCTAS     = skipMask(&pg_query.CreateTableAsStmt{}, "into", "query")
	skipConstr   = skipMask(&pg_query.Constraint{}, "pktable")
	skipLike     = skipMask(&pg_query.TableLikeClause{}, "relation")
	skipExplain  = skipMask(&pg_query.ExplainStmt{}, "query")
	skipSchema   = skipMask(&pg_query.CreateSchemaStmt{}, "schema_elts")
	skipImport   = skipMask(&pg_query.ImportForeignSchemaStmt{}, "table_list")
)
