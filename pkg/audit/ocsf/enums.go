package ocsf

import "fmt"

// activity is an activity of a class, with its fragment: the value of
// class_uid followed by class_name, category_uid, category_name,
// activity_id, activity_name, type_uid and type_name.
type activity struct {
	id       int
	fragment []byte
}

func newActivity(classUID int, className string, category int, categoryName string, id int, name string) *activity {
	return &activity{id: id, fragment: fmt.Appendf(nil,
		`%d,"class_name":%q,"category_uid":%d,"category_name":%q,"activity_id":%d,"activity_name":%q,"type_uid":%d,"type_name":%q`,
		classUID, className, category, categoryName, id, name, classUID*100+id, className+": "+name)}
}

// Datastore Activity (6005, category Application Activity) activities.
func datastore(id int, name string) *activity {
	return newActivity(6005, "Datastore Activity", 6, "Application Activity", id, name)
}

var (
	activityRead   = datastore(1, "Read")
	activityUpdate = datastore(2, "Update")
	activityQuery  = datastore(4, "Query")
	activityWrite  = datastore(5, "Write")
	activityCreate = datastore(6, "Create")
	activityDelete = datastore(7, "Delete")
	activityOther  = datastore(99, "Other")
)

// Authentication (3002, category Identity & Access Management): Logon.
var activityLogon = newActivity(3002, "Authentication", 3, "Identity & Access Management", 1, "Logon")

// Severity and status ids, and their fragments (the id, then the caption).
const (
	severityInformational = 1
	severityLow           = 2
	severityMedium        = 3

	statusSuccess = 1
	statusFailure = 2
)

var (
	severities = map[int][]byte{
		severityInformational: []byte(`1,"severity":"Informational"`),
		severityLow:           []byte(`2,"severity":"Low"`),
		severityMedium:        []byte(`3,"severity":"Medium"`),
	}
	statuses = map[int][]byte{
		statusSuccess: []byte(`1,"status":"Success"`),
		statusFailure: []byte(`2,"status":"Failure"`),
	}
)

// Security control: the value of action_id followed by action,
// disposition_id and disposition.
var (
	allowed  = []byte(`1,"action":"Allowed","disposition_id":1,"disposition":"Allowed"`)
	approved = []byte(`1,"action":"Allowed","disposition_id":8,"disposition":"Approved"`)
	blocked  = []byte(`2,"action":"Denied","disposition_id":2,"disposition":"Blocked"`)
)
