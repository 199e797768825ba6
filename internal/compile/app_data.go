package compile

import (
	"fmt"
	"strconv"

	elevator "github.com/elevatorhq/elevator"
)

// Logical IDs of an app's data stores.
const (
	idRedisSubnetGroup   = "RedisSubnetGroup"
	idRedisSG            = "RedisSecurityGroup"
	idRedisGroup         = "RedisReplicationGroup"
	idDatabaseSubnets    = "DatabaseSubnetGroup"
	idDatabaseSG         = "DatabaseSecurityGroup"
	idDatabaseSecret     = "DatabaseSecret"
	idDatabaseAttachment = "DatabaseSecretAttachment"
	idDatabaseInstance   = "DatabaseInstance" // RDS; Aurora: + 1, 2
	idDatabaseCluster    = "DatabaseCluster"
	idDatabaseGlobal     = "DatabaseGlobalCluster"
	idTable              = "Table" // + <table>
	redisPort            = 6379
	// databaseUser is the master user of an app's database; its password
	// is generated into Secrets Manager and never seen by Elevator.
	databaseUser            = "elevator"
	databasePasswordLength  = 32
	databaseBackupDays      = 7
	globalClusterNameMax    = 63
	dynamoDBTableNameMaxLen = 255
)

// TableName is the physical name of an app's DynamoDB table in an orbit:
// <app>-<table>-<orbit>.
func TableName(orbit, app, table string) string { return app + "-" + table + "-" + orbit }

// GlobalDatabaseName is the identifier of an app's Aurora global database
// in an orbit: elevator-<orbit>-<app>.
func GlobalDatabaseName(orbit, app string) string { return "elevator-" + orbit + "-" + app }

// GlobalDatabaseSecretName is the name of the master secret of an app's
// global database. It is created in the orbit's first region and
// replicated, under the same name, to the others.
func GlobalDatabaseSecretName(orbit, app string) string {
	return "elevator/" + orbit + "/" + app + "/database"
}

// dataPolicy is the deletion and replacement policy of what an app keeps
// that no snapshot keeps: Retain in a protected orbit, else Delete.
func (b *appBuilder) dataPolicy() string {
	if b.o.Protect {
		return "Retain"
	}
	return "Delete"
}

// primaryRegion reports whether this stack is in the orbit's first region,
// where a global database's writer and global cluster are.
func (b *appBuilder) primaryRegion() bool {
	return len(b.o.Regions) > 0 && b.o.Regions[0].Name == b.r.Name
}

// databaseSecretRef decides how this stack names the database's master
// secret, before the services' policies grant it.
func (b *appBuilder) databaseSecretRef() {
	db := b.a.Data.Database
	switch {
	case db == nil:
	case db.Global && !b.primaryRegion():
		b.dbSecret = GlobalDatabaseSecretName(b.o.Name, b.a.Name)
	default:
		b.dbSecret = Ref(idDatabaseSecret)
	}
}

// dataSecurityGroup compiles the security group of a data store, letting
// in every service of the app on port.
func (b *appBuilder) dataSecurityGroup(id, path, what string, port int) {
	var ingress []any
	for _, s := range b.a.Services {
		if svc := b.svcID[s.Name]; svc != "" {
			ingress = append(ingress, Props{"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "SourceSecurityGroupId": Ref(idServiceSG + svc), "Description": "From service " + s.Name})
		}
	}
	props := Props{
		"GroupDescription": fmt.Sprintf("%s of app %s in orbit %s", what, b.a.Name, b.o.Name),
		"VpcId":            b.vpc(),
		"SecurityGroupEgress": []any{
			Props{"IpProtocol": "-1", "CidrIp": anywhere, "Description": "All traffic out"},
		},
		"Tags": b.tags(b.resourceName(camelLower(what)), ""),
	}
	if len(ingress) > 0 {
		props["SecurityGroupIngress"] = ingress
	}
	b.add(id, path, Resource{Type: "AWS::EC2::SecurityGroup", Properties: props})
}

func camelLower(what string) string {
	switch what {
	case "Redis":
		return "redis"
	default:
		return "database"
	}
}

// redis compiles the app's Redis: an ElastiCache replication group in the
// orbit's data subnets, encrypted in transit and at rest, with automatic
// failover when it has more than one node.
func (b *appBuilder) redis() {
	rd := b.a.Data.Redis
	if rd == nil {
		return
	}
	if rd.Nodes < 1 || rd.Nodes > 6 {
		b.errorf(rd.Path+".nodes", rd.Nodes, "a Redis replication group has 1 to 6 nodes")
	}
	if rd.NodeType == "" {
		b.errorf(rd.Path+".node_type", nil, "Redis needs a node type, such as cache.t4g.micro")
	}
	subnets, ok := b.subnets(roleData, rd.Path, "Redis")
	if !ok {
		return
	}
	b.add(idRedisSubnetGroup, rd.Path, Resource{Type: "AWS::ElastiCache::SubnetGroup", Properties: Props{
		"Description": fmt.Sprintf("Redis of app %s in orbit %s", b.a.Name, b.o.Name),
		"SubnetIds":   subnets,
		"Tags":        b.tags(b.resourceName("redis"), ""),
	}})
	b.dataSecurityGroup(idRedisSG, rd.Path, "Redis", redisPort)
	multi := rd.Nodes > 1
	props := Props{
		"ReplicationGroupDescription": fmt.Sprintf("Redis of app %s in orbit %s", b.a.Name, b.o.Name),
		"Engine":                      "redis",
		"CacheNodeType":               rd.NodeType,
		"NumCacheClusters":            rd.Nodes,
		"Port":                        redisPort,
		"AutomaticFailoverEnabled":    multi,
		"MultiAZEnabled":              multi,
		"TransitEncryptionEnabled":    true,
		"AtRestEncryptionEnabled":     true,
		"CacheSubnetGroupName":        Ref(idRedisSubnetGroup),
		"SecurityGroupIds":            []any{Ref(idRedisSG)},
		"Tags":                        b.tags(b.resourceName("redis"), ""),
	}
	if rd.EngineVersion != "" {
		props["EngineVersion"] = rd.EngineVersion
	}
	if rd.MaintenanceWindow != "" {
		props["PreferredMaintenanceWindow"] = rd.MaintenanceWindow
	}
	// A cache: nothing in it outlives the stack.
	b.add(idRedisGroup, rd.Path, Resource{Type: "AWS::ElastiCache::ReplicationGroup", DeletionPolicy: "Delete", UpdateReplacePolicy: "Delete", Properties: props})
	b.output(elevator.AppOutputRedisEndpoint, rd.Path, "Address of the Redis primary (TLS)", GetAtt(idRedisGroup, "PrimaryEndPoint.Address"))
	b.output(elevator.AppOutputRedisPort, rd.Path, "Port of Redis", strconv.Itoa(redisPort))
}

// database compiles the app's database: an RDS instance or an Aurora
// cluster per region, or one Aurora global database whose writer is in the
// orbit's first region. The master password is generated into Secrets
// Manager and reaches the database through a dynamic reference, so it is in
// no template, parameter or output.
func (b *appBuilder) database() {
	db := b.a.Data.Database
	if db == nil {
		return
	}
	path := db.Path
	var port int
	switch db.Engine {
	case "postgres":
		port = 5432
	case "mysql":
		port = 3306
	default:
		b.errorf(path+".engine", db.Engine, "unknown engine; use postgres or mysql")
		return
	}
	if db.Global && !db.Aurora {
		b.errorf(path+".global", true, "a global database is an Aurora global database; set aurora too")
		return
	}
	if db.Class == "" {
		b.errorf(path+".class", nil, "a database needs an instance class, such as db.t4g.medium")
	}
	if !db.Aurora && db.Storage < 20 {
		b.errorf(path+".storage", db.Storage, "an RDS database needs 20 GiB of storage or more")
	}
	if n := len(GlobalDatabaseName(b.o.Name, b.a.Name)); db.Global && n > globalClusterNameMax {
		b.errorf(path+".global", true, "the global database's name %s is %d characters, over RDS's %d; use a shorter app or orbit name",
			GlobalDatabaseName(b.o.Name, b.a.Name), n, globalClusterNameMax)
	}
	role := roleData
	if db.Public {
		role = rolePublic
	}
	subnets, ok := b.subnets(role, path, "the database")
	if !ok {
		return
	}
	b.add(idDatabaseSubnets, path, Resource{Type: "AWS::RDS::DBSubnetGroup", Properties: Props{
		"DBSubnetGroupDescription": fmt.Sprintf("Database of app %s in orbit %s", b.a.Name, b.o.Name),
		"SubnetIds":                subnets,
		"Tags":                     b.tags(b.resourceName("database"), ""),
	}})
	b.dataSecurityGroup(idDatabaseSG, path, "Database", port)

	writer := !db.Global || b.primaryRegion()
	if writer {
		b.databaseSecret(db)
	}
	username := Sub("{{resolve:secretsmanager:${" + idDatabaseSecret + "}:SecretString:username}}")
	password := Sub("{{resolve:secretsmanager:${" + idDatabaseSecret + "}:SecretString:password}}")
	tags := b.tags(b.resourceName("database"), "")

	if !db.Aurora {
		props := Props{
			"Engine":                  db.Engine,
			"DBInstanceClass":         db.Class,
			"AllocatedStorage":        strconv.Itoa(db.Storage),
			"StorageType":             "gp3",
			"StorageEncrypted":        true,
			"MultiAZ":                 db.MultiAZ,
			"PubliclyAccessible":      db.Public,
			"DBSubnetGroupName":       Ref(idDatabaseSubnets),
			"VPCSecurityGroups":       []any{Ref(idDatabaseSG)},
			"MasterUsername":          username,
			"MasterUserPassword":      password,
			"BackupRetentionPeriod":   databaseBackupDays,
			"CopyTagsToSnapshot":      true,
			"AutoMinorVersionUpgrade": true,
			"DeletionProtection":      b.o.Protect,
			"Tags":                    tags,
		}
		if db.Version != "" {
			props["EngineVersion"] = db.Version
		}
		b.add(idDatabaseInstance, path, Resource{Type: "AWS::RDS::DBInstance", DeletionPolicy: "Snapshot", UpdateReplacePolicy: "Snapshot", Properties: props})
		b.attachSecret(path, idDatabaseInstance, "AWS::RDS::DBInstance")
		b.output(elevator.AppOutputDatabaseEndpoint, path, "Address of the database", GetAtt(idDatabaseInstance, "Endpoint.Address"))
	} else {
		engine := "aurora-postgresql"
		if db.Engine == "mysql" {
			engine = "aurora-mysql"
		}
		props := Props{
			"Engine":                engine,
			"DBSubnetGroupName":     Ref(idDatabaseSubnets),
			"VpcSecurityGroupIds":   []any{Ref(idDatabaseSG)},
			"Port":                  port,
			"StorageEncrypted":      true,
			"BackupRetentionPeriod": databaseBackupDays,
			"CopyTagsToSnapshot":    true,
			"DeletionProtection":    b.o.Protect,
			"Tags":                  tags,
		}
		if db.Version != "" {
			props["EngineVersion"] = db.Version
		}
		if writer {
			props["MasterUsername"] = username
			props["MasterUserPassword"] = password
		}
		if db.Global {
			if writer {
				global := Props{
					"GlobalClusterIdentifier": GlobalDatabaseName(b.o.Name, b.a.Name),
					"Engine":                  engine,
					"StorageEncrypted":        true,
					"DeletionProtection":      b.o.Protect,
				}
				if db.Version != "" {
					global["EngineVersion"] = db.Version
				}
				b.add(idDatabaseGlobal, path, Resource{Type: "AWS::RDS::GlobalCluster", DeletionPolicy: "Delete", Properties: global})
				props["GlobalClusterIdentifier"] = Ref(idDatabaseGlobal)
			} else {
				// A secondary cluster joins the global database, takes its
				// users from the writer, and encrypts its replica with the
				// region's own RDS key.
				props["GlobalClusterIdentifier"] = GlobalDatabaseName(b.o.Name, b.a.Name)
				props["KmsKeyId"] = Sub("arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:alias/aws/rds")
			}
		}
		b.add(idDatabaseCluster, path, Resource{Type: "AWS::RDS::DBCluster", DeletionPolicy: "Snapshot", UpdateReplacePolicy: "Snapshot", Properties: props})
		instances := 1
		if db.MultiAZ {
			instances = 2
		}
		for i := 1; i <= instances; i++ {
			// The cluster keeps the data and its snapshot; its instances
			// are only compute.
			b.add(idDatabaseInstance+strconv.Itoa(i), path, Resource{Type: "AWS::RDS::DBInstance", DeletionPolicy: "Delete", UpdateReplacePolicy: "Delete", Properties: Props{
				"Engine":                  engine,
				"DBClusterIdentifier":     Ref(idDatabaseCluster),
				"DBInstanceClass":         db.Class,
				"DBSubnetGroupName":       Ref(idDatabaseSubnets),
				"PubliclyAccessible":      db.Public,
				"AutoMinorVersionUpgrade": true,
				"Tags":                    tags,
			}})
		}
		if writer {
			b.attachSecret(path, idDatabaseCluster, "AWS::RDS::DBCluster")
		}
		b.output(elevator.AppOutputDatabaseEndpoint, path, "Address of the database's writer", GetAtt(idDatabaseCluster, "Endpoint.Address"))
		b.output("DatabaseReaderEndpoint", path, "Address of the database's readers", GetAtt(idDatabaseCluster, "ReadEndpoint.Address"))
	}
	b.output(elevator.AppOutputDatabasePort, path, "Port of the database", strconv.Itoa(port))
	b.output(elevator.AppOutputDatabaseSecret, path, "Secrets Manager secret with the database's user, password, host and port", b.dbSecret)
}

// databaseSecret compiles the secret that generates the database's master
// password. A global database's secret has a fixed name and is replicated
// to the orbit's other regions, so that services there can read it.
func (b *appBuilder) databaseSecret(db *elevator.Database) {
	props := Props{
		"Description": fmt.Sprintf("Master user of the database of app %s in orbit %s", b.a.Name, b.o.Name),
		"GenerateSecretString": Props{
			"SecretStringTemplate": `{"username":"` + databaseUser + `"}`,
			"GenerateStringKey":    "password",
			"PasswordLength":       databasePasswordLength,
			"ExcludeCharacters":    `"@/\' `,
		},
		"Tags": b.tags(b.resourceName("database"), ""),
	}
	if db.Global {
		props["Name"] = GlobalDatabaseSecretName(b.o.Name, b.a.Name)
		var replicas []any
		for _, r := range b.o.Regions[1:] {
			replicas = append(replicas, Props{"Region": r.Name})
		}
		if len(replicas) > 0 {
			props["ReplicaRegions"] = replicas
		}
	}
	// The secret goes with the stack unless the orbit is protected: the
	// database's final snapshot can be restored with a new password.
	policy := b.dataPolicy()
	b.add(idDatabaseSecret, db.Path, Resource{Type: "AWS::SecretsManager::Secret", DeletionPolicy: policy, UpdateReplacePolicy: policy, Properties: props})
}

// attachSecret adds the database's address and port to its secret, so that
// a service finds everything it needs to connect in one place.
func (b *appBuilder) attachSecret(path, target, targetType string) {
	b.add(idDatabaseAttachment, path, Resource{Type: "AWS::SecretsManager::SecretTargetAttachment", Properties: Props{
		"SecretId":   Ref(idDatabaseSecret),
		"TargetId":   Ref(target),
		"TargetType": targetType,
	}})
}

// tables compiles the app's DynamoDB tables. Their physical names carry
// the orbit. They go with the stack (DeletionPolicy Delete) unless the
// orbit is protected; `app down` is what refuses to drop data without
// being asked to.
func (b *appBuilder) tables() {
	policy := b.dataPolicy()
	for _, t := range b.a.Data.Tables {
		name := TableName(b.o.Name, b.a.Name, t.Name)
		if len(name) > dynamoDBTableNameMaxLen {
			b.errorf(t.Path, t.Name, "makes the table name %d characters long, over DynamoDB's %d", len(name), dynamoDBTableNameMaxLen)
			continue
		}
		keys := []any{}
		attrs := []any{}
		ok := true
		for _, k := range []struct {
			key   *elevator.Key
			kind  string
			field string
		}{{&t.HashKey, "HASH", "hash_key"}, {t.RangeKey, "RANGE", "range_key"}} {
			if k.key == nil {
				continue
			}
			switch {
			case k.key.Name == "":
				b.errorf(t.Path+"."+k.field, nil, "a table key needs an attribute name")
				ok = false
			case k.key.Type != "S" && k.key.Type != "N" && k.key.Type != "B":
				b.errorf(t.Path+"."+k.field, k.key.Type, "a key attribute's type is S, N or B")
				ok = false
			}
			keys = append(keys, Props{"AttributeName": k.key.Name, "KeyType": k.kind})
			attrs = append(attrs, Props{"AttributeName": k.key.Name, "AttributeType": k.key.Type})
		}
		props := Props{
			"TableName":            name,
			"KeySchema":            keys,
			"AttributeDefinitions": attrs,
			"PointInTimeRecoverySpecification": Props{
				"PointInTimeRecoveryEnabled": true,
			},
			"Tags": b.tags(name, ""),
		}
		if t.OnDemand {
			props["BillingMode"] = "PAY_PER_REQUEST"
		} else {
			if t.Read < 1 || t.Write < 1 {
				b.errorf(t.Path, t.Name, "a provisioned table needs read and write capacity of 1 or more; or make it on demand")
				ok = false
			}
			props["BillingMode"] = "PROVISIONED"
			props["ProvisionedThroughput"] = Props{"ReadCapacityUnits": t.Read, "WriteCapacityUnits": t.Write}
		}
		if !ok {
			continue
		}
		id := idTable + camel(t.Name)
		b.add(id, t.Path, Resource{Type: "AWS::DynamoDB::Table", DeletionPolicy: policy, UpdateReplacePolicy: policy, Properties: props})
		b.output(camel(t.Name)+"Table", t.Path, "Name of table "+t.Name, Ref(id))
	}
}
