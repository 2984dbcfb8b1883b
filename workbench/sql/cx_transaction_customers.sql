-- cx_transaction_customers: the customers who appear in transactions (the survey check).
--
-- Input: transactions(customer_id, ...), staged by workbench.io. One row per customer.
SELECT DISTINCT customer_id FROM transactions
