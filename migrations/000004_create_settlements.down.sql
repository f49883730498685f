DROP TABLE IF EXISTS settlements;
