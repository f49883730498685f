DROP TABLE IF EXISTS job_result_chunks;
DROP TABLE IF EXISTS job_results;
