-- One database per service (the settings derive <server>/<service>_service from DATABASE_URL);
-- run once by the postgres image on an empty data directory. Each service migrates its own schema.
CREATE DATABASE case_service;
CREATE DATABASE contact_service;
CREATE DATABASE payment_service;
CREATE DATABASE audit_service;
