// Generated from openapi/openapi.json by `npm run openapi`; do not edit (a test checks it).
export interface paths {
    "/healthz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Liveness
         * @description Answers 200 while the process runs. Depends on nothing outside the process: use it for the liveness probe.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Healthy */
                200: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            status: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/readyz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Readiness
         * @description Answers 200 once the configuration and policy are loaded, and 503 from the moment shutdown starts.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Healthy */
                200: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            status: string;
                        };
                    };
                };
                /** @description Shutting down. Codes: NOT_READY */
                503: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        /** @description Seconds to wait before retrying */
                        "retry-after"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "NOT_READY",
                         *         "message": "The broker is not ready to serve (starting or shutting down)"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "NOT_READY";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/tokens/account": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Get an Account-scope token of the default account
         * @description An Account-scope token can read every video in the account, so a policy grants it only where a rule names it (and its alias, for an account other than the default).
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description The token. It always has at least TOKEN_MIN_REMAINING_SECONDS (300 s by default) of life left */
                200: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        /** @description Tokens must not be stored by intermediaries */
                        "cache-control"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "accessToken": "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJTY29wZSI6IkFjY291bnQifQ.c2lnbmF0dXJl",
                         *       "scope": "Account",
                         *       "accountName": "contosto-azurevideoindexer",
                         *       "expiresOn": "2026-11-27T13:00:00.000Z",
                         *       "account": {
                         *         "alias": "default",
                         *         "accountName": "contosto-azurevideoindexer",
                         *         "accountId": "462af7c5-d1f6-4b91-86e3-8bc5e8a61574",
                         *         "location": "northeurope"
                         *       }
                         *     }
                         */
                        "application/json": {
                            /** @description Restricted viewer access token for Video Indexer (a JWT, about 1 hour of life) */
                            accessToken: string;
                            /**
                             * @description ARM's name of the token's scope
                             * @enum {unknown}
                             */
                            scope: "Account" | "Project" | "Video";
                            /** @description Present for Video scope */
                            videoId?: string;
                            /** @description Present for Project scope */
                            projectId?: string;
                            /** @description The Video Indexer account (its ARM resource name) */
                            accountName: string;
                            /**
                             * Format: date-time
                             * @description When the token expires (ISO-8601, UTC)
                             */
                            expiresOn: string;
                            /** @description The account, once the broker has read it from Azure (absent until then) */
                            account?: {
                                /** @description The account's alias in the broker (default without ACCOUNTS_FILE) */
                                alias: string;
                                /** @description Its ARM resource name */
                                accountName: string;
                                /** @description Its Video Indexer account id (properties.accountId), for embed URLs */
                                accountId: string;
                                /** @description Its region in lower case, as the widgets take it (e.g. northeurope) */
                                location: string;
                            };
                            /** @description Video scope, once the account is read: the widget URLs (VI_WEB_BASE_URL/embed/...) */
                            embed?: {
                                /** @description The player widget URL, with the token and location */
                                player: string;
                                /** @description The insights widget URL, with the token and location */
                                insights: string;
                            };
                        };
                    };
                };
                /** @description No valid caller JWT. Codes: AUTH_REQUIRED, AUTH_INVALID, AUTH_EXPIRED, AUTH_NO_CALLER */
                401: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        "www-authenticate"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "AUTH_REQUIRED",
                         *         "message": "A bearer token is required in the Authorization header"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "AUTH_REQUIRED" | "AUTH_INVALID" | "AUTH_EXPIRED" | "AUTH_NO_CALLER";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description The policy does not allow this caller this scope, id or account. Codes: POLICY_DENIED */
                403: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "POLICY_DENIED",
                         *         "message": "The caller is not allowed this scope or id"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "POLICY_DENIED";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description Over this caller's rate limit, or (for a token not cached) its mint budget, from the policy; retry after Retry-After seconds. Codes: RATE_LIMITED, MINT_BUDGET_EXCEEDED */
                429: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        /** @description Seconds to wait before retrying */
                        "retry-after"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "RATE_LIMITED",
                         *         "message": "Too many requests from this caller; retry later"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "RATE_LIMITED" | "MINT_BUDGET_EXCEEDED";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description ARM refused the request (4xx); ARM's error code is in details. Codes: ARM_ERROR */
                502: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "ARM_ERROR",
                         *         "message": "Azure Resource Manager refused to issue the token"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "ARM_ERROR";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description ARM is throttling, failing or unreachable, or the broker cannot audit or is overloaded; retry after Retry-After seconds. Codes: ARM_THROTTLED, ARM_UNAVAILABLE, IDENTITY_UNAVAILABLE, JWKS_UNAVAILABLE, AUDIT_UNAVAILABLE, OVERLOADED */
                503: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        /** @description Seconds to wait before retrying */
                        "retry-after"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "ARM_THROTTLED",
                         *         "message": "Azure Resource Manager is throttling token requests; retry later"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "ARM_THROTTLED" | "ARM_UNAVAILABLE" | "IDENTITY_UNAVAILABLE" | "JWKS_UNAVAILABLE" | "AUDIT_UNAVAILABLE" | "OVERLOADED";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description ARM did not answer within the deadline. Codes: ARM_TIMEOUT */
                504: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "ARM_TIMEOUT",
                         *         "message": "Azure Resource Manager did not answer in time"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "ARM_TIMEOUT";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/tokens/project/{projectId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Get a Project-scope token of the default account */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /**
                     * @description The Video Indexer project id
                     * @example 07ec9e38d4
                     */
                    projectId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description The token. It always has at least TOKEN_MIN_REMAINING_SECONDS (300 s by default) of life left */
                200: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        /** @description Tokens must not be stored by intermediaries */
                        "cache-control"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "accessToken": "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJTY29wZSI6IlByb2plY3QifQ.c2lnbmF0dXJl",
                         *       "scope": "Project",
                         *       "projectId": "07ec9e38d4",
                         *       "accountName": "contosto-azurevideoindexer",
                         *       "expiresOn": "2026-11-27T13:00:00.000Z",
                         *       "account": {
                         *         "alias": "default",
                         *         "accountName": "contosto-azurevideoindexer",
                         *         "accountId": "462af7c5-d1f6-4b91-86e3-8bc5e8a61574",
                         *         "location": "northeurope"
                         *       }
                         *     }
                         */
                        "application/json": {
                            /** @description Restricted viewer access token for Video Indexer (a JWT, about 1 hour of life) */
                            accessToken: string;
                            /**
                             * @description ARM's name of the token's scope
                             * @enum {unknown}
                             */
                            scope: "Account" | "Project" | "Video";
                            /** @description Present for Video scope */
                            videoId?: string;
                            /** @description Present for Project scope */
                            projectId?: string;
                            /** @description The Video Indexer account (its ARM resource name) */
                            accountName: string;
                            /**
                             * Format: date-time
                             * @description When the token expires (ISO-8601, UTC)
                             */
                            expiresOn: string;
                            /** @description The account, once the broker has read it from Azure (absent until then) */
                            account?: {
                                /** @description The account's alias in the broker (default without ACCOUNTS_FILE) */
                                alias: string;
                                /** @description Its ARM resource name */
                                accountName: string;
                                /** @description Its Video Indexer account id (properties.accountId), for embed URLs */
                                accountId: string;
                                /** @description Its region in lower case, as the widgets take it (e.g. northeurope) */
                                location: string;
                            };
                            /** @description Video scope, once the account is read: the widget URLs (VI_WEB_BASE_URL/embed/...) */
                            embed?: {
                                /** @description The player widget URL, with the token and location */
                                player: string;
                                /** @description The insights widget URL, with the token and location */
                                insights: string;
                            };
                        };
                    };
                };
                /** @description The id does not match ^[A-Za-z0-9_-]{1,64}$; checked before the policy and ARM. Codes: INVALID_ID */
                400: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "INVALID_ID",
                         *         "message": "The id must match ^[A-Za-z0-9_-]{1,64}$"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "INVALID_ID";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description No valid caller JWT. Codes: AUTH_REQUIRED, AUTH_INVALID, AUTH_EXPIRED, AUTH_NO_CALLER */
                401: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        "www-authenticate"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "AUTH_REQUIRED",
                         *         "message": "A bearer token is required in the Authorization header"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "AUTH_REQUIRED" | "AUTH_INVALID" | "AUTH_EXPIRED" | "AUTH_NO_CALLER";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description The policy does not allow this caller this scope, id or account. Codes: POLICY_DENIED */
                403: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "POLICY_DENIED",
                         *         "message": "The caller is not allowed this scope or id"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "POLICY_DENIED";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description Over this caller's rate limit, or (for a token not cached) its mint budget, from the policy; retry after Retry-After seconds. Codes: RATE_LIMITED, MINT_BUDGET_EXCEEDED */
                429: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        /** @description Seconds to wait before retrying */
                        "retry-after"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "RATE_LIMITED",
                         *         "message": "Too many requests from this caller; retry later"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "RATE_LIMITED" | "MINT_BUDGET_EXCEEDED";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description ARM refused the request (4xx); ARM's error code is in details. Codes: ARM_ERROR */
                502: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "ARM_ERROR",
                         *         "message": "Azure Resource Manager refused to issue the token"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "ARM_ERROR";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description ARM is throttling, failing or unreachable, or the broker cannot audit or is overloaded; retry after Retry-After seconds. Codes: ARM_THROTTLED, ARM_UNAVAILABLE, IDENTITY_UNAVAILABLE, JWKS_UNAVAILABLE, AUDIT_UNAVAILABLE, OVERLOADED */
                503: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        /** @description Seconds to wait before retrying */
                        "retry-after"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "ARM_THROTTLED",
                         *         "message": "Azure Resource Manager is throttling token requests; retry later"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "ARM_THROTTLED" | "ARM_UNAVAILABLE" | "IDENTITY_UNAVAILABLE" | "JWKS_UNAVAILABLE" | "AUDIT_UNAVAILABLE" | "OVERLOADED";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description ARM did not answer within the deadline. Codes: ARM_TIMEOUT */
                504: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "ARM_TIMEOUT",
                         *         "message": "Azure Resource Manager did not answer in time"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "ARM_TIMEOUT";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/tokens/video/{videoId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Get a Video-scope token of the default account
         * @description The token lets a player or insights widget show this one video; once the account is read from Azure, the answer carries the widget URLs too.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /**
                     * @description The Video Indexer video id
                     * @example 07ec9e38d4
                     */
                    videoId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description The token. It always has at least TOKEN_MIN_REMAINING_SECONDS (300 s by default) of life left */
                200: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        /** @description Tokens must not be stored by intermediaries */
                        "cache-control"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "accessToken": "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJTY29wZSI6IlZpZGVvIn0.c2lnbmF0dXJl",
                         *       "scope": "Video",
                         *       "videoId": "07ec9e38d4",
                         *       "accountName": "contosto-azurevideoindexer",
                         *       "expiresOn": "2026-11-27T13:00:00.000Z",
                         *       "account": {
                         *         "alias": "default",
                         *         "accountName": "contosto-azurevideoindexer",
                         *         "accountId": "462af7c5-d1f6-4b91-86e3-8bc5e8a61574",
                         *         "location": "northeurope"
                         *       },
                         *       "embed": {
                         *         "player": "https://www.videoindexer.ai/embed/player/462af7c5-d1f6-4b91-86e3-8bc5e8a61574/07ec9e38d4/?accessToken=eyJ0eXAi...&location=northeurope",
                         *         "insights": "https://www.videoindexer.ai/embed/insights/462af7c5-d1f6-4b91-86e3-8bc5e8a61574/07ec9e38d4/?accessToken=eyJ0eXAi...&location=northeurope"
                         *       }
                         *     }
                         */
                        "application/json": {
                            /** @description Restricted viewer access token for Video Indexer (a JWT, about 1 hour of life) */
                            accessToken: string;
                            /**
                             * @description ARM's name of the token's scope
                             * @enum {unknown}
                             */
                            scope: "Account" | "Project" | "Video";
                            /** @description Present for Video scope */
                            videoId?: string;
                            /** @description Present for Project scope */
                            projectId?: string;
                            /** @description The Video Indexer account (its ARM resource name) */
                            accountName: string;
                            /**
                             * Format: date-time
                             * @description When the token expires (ISO-8601, UTC)
                             */
                            expiresOn: string;
                            /** @description The account, once the broker has read it from Azure (absent until then) */
                            account?: {
                                /** @description The account's alias in the broker (default without ACCOUNTS_FILE) */
                                alias: string;
                                /** @description Its ARM resource name */
                                accountName: string;
                                /** @description Its Video Indexer account id (properties.accountId), for embed URLs */
                                accountId: string;
                                /** @description Its region in lower case, as the widgets take it (e.g. northeurope) */
                                location: string;
                            };
                            /** @description Video scope, once the account is read: the widget URLs (VI_WEB_BASE_URL/embed/...) */
                            embed?: {
                                /** @description The player widget URL, with the token and location */
                                player: string;
                                /** @description The insights widget URL, with the token and location */
                                insights: string;
                            };
                        };
                    };
                };
                /** @description The id does not match ^[A-Za-z0-9_-]{1,64}$; checked before the policy and ARM. Codes: INVALID_ID */
                400: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "INVALID_ID",
                         *         "message": "The id must match ^[A-Za-z0-9_-]{1,64}$"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "INVALID_ID";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description No valid caller JWT. Codes: AUTH_REQUIRED, AUTH_INVALID, AUTH_EXPIRED, AUTH_NO_CALLER */
                401: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        "www-authenticate"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "AUTH_REQUIRED",
                         *         "message": "A bearer token is required in the Authorization header"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "AUTH_REQUIRED" | "AUTH_INVALID" | "AUTH_EXPIRED" | "AUTH_NO_CALLER";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description The policy does not allow this caller this scope, id or account. Codes: POLICY_DENIED */
                403: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "POLICY_DENIED",
                         *         "message": "The caller is not allowed this scope or id"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "POLICY_DENIED";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description Over this caller's rate limit, or (for a token not cached) its mint budget, from the policy; retry after Retry-After seconds. Codes: RATE_LIMITED, MINT_BUDGET_EXCEEDED */
                429: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        /** @description Seconds to wait before retrying */
                        "retry-after"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "RATE_LIMITED",
                         *         "message": "Too many requests from this caller; retry later"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "RATE_LIMITED" | "MINT_BUDGET_EXCEEDED";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description ARM refused the request (4xx); ARM's error code is in details. Codes: ARM_ERROR */
                502: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "ARM_ERROR",
                         *         "message": "Azure Resource Manager refused to issue the token"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "ARM_ERROR";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description ARM is throttling, failing or unreachable, or the broker cannot audit or is overloaded; retry after Retry-After seconds. Codes: ARM_THROTTLED, ARM_UNAVAILABLE, IDENTITY_UNAVAILABLE, JWKS_UNAVAILABLE, AUDIT_UNAVAILABLE, OVERLOADED */
                503: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        /** @description Seconds to wait before retrying */
                        "retry-after"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "ARM_THROTTLED",
                         *         "message": "Azure Resource Manager is throttling token requests; retry later"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "ARM_THROTTLED" | "ARM_UNAVAILABLE" | "IDENTITY_UNAVAILABLE" | "JWKS_UNAVAILABLE" | "AUDIT_UNAVAILABLE" | "OVERLOADED";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description ARM did not answer within the deadline. Codes: ARM_TIMEOUT */
                504: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "ARM_TIMEOUT",
                         *         "message": "Azure Resource Manager did not answer in time"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "ARM_TIMEOUT";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/accounts/{alias}/tokens/account": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Get an Account-scope token of the account of this alias
         * @description An Account-scope token can read every video in the account, so a policy grants it only where a rule names it (and its alias, for an account other than the default).
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /**
                     * @description An account alias from the ACCOUNTS_FILE (^[a-z0-9][a-z0-9-]{0,62}$)
                     * @example eu-prod
                     */
                    alias: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description The token. It always has at least TOKEN_MIN_REMAINING_SECONDS (300 s by default) of life left */
                200: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        /** @description Tokens must not be stored by intermediaries */
                        "cache-control"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "accessToken": "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJTY29wZSI6IkFjY291bnQifQ.c2lnbmF0dXJl",
                         *       "scope": "Account",
                         *       "accountName": "contosto-azurevideoindexer",
                         *       "expiresOn": "2026-11-27T13:00:00.000Z",
                         *       "account": {
                         *         "alias": "default",
                         *         "accountName": "contosto-azurevideoindexer",
                         *         "accountId": "462af7c5-d1f6-4b91-86e3-8bc5e8a61574",
                         *         "location": "northeurope"
                         *       }
                         *     }
                         */
                        "application/json": {
                            /** @description Restricted viewer access token for Video Indexer (a JWT, about 1 hour of life) */
                            accessToken: string;
                            /**
                             * @description ARM's name of the token's scope
                             * @enum {unknown}
                             */
                            scope: "Account" | "Project" | "Video";
                            /** @description Present for Video scope */
                            videoId?: string;
                            /** @description Present for Project scope */
                            projectId?: string;
                            /** @description The Video Indexer account (its ARM resource name) */
                            accountName: string;
                            /**
                             * Format: date-time
                             * @description When the token expires (ISO-8601, UTC)
                             */
                            expiresOn: string;
                            /** @description The account, once the broker has read it from Azure (absent until then) */
                            account?: {
                                /** @description The account's alias in the broker (default without ACCOUNTS_FILE) */
                                alias: string;
                                /** @description Its ARM resource name */
                                accountName: string;
                                /** @description Its Video Indexer account id (properties.accountId), for embed URLs */
                                accountId: string;
                                /** @description Its region in lower case, as the widgets take it (e.g. northeurope) */
                                location: string;
                            };
                            /** @description Video scope, once the account is read: the widget URLs (VI_WEB_BASE_URL/embed/...) */
                            embed?: {
                                /** @description The player widget URL, with the token and location */
                                player: string;
                                /** @description The insights widget URL, with the token and location */
                                insights: string;
                            };
                        };
                    };
                };
                /** @description No valid caller JWT. Codes: AUTH_REQUIRED, AUTH_INVALID, AUTH_EXPIRED, AUTH_NO_CALLER */
                401: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        "www-authenticate"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "AUTH_REQUIRED",
                         *         "message": "A bearer token is required in the Authorization header"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "AUTH_REQUIRED" | "AUTH_INVALID" | "AUTH_EXPIRED" | "AUTH_NO_CALLER";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description The policy does not allow this caller this scope, id or account. Codes: POLICY_DENIED */
                403: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "POLICY_DENIED",
                         *         "message": "The caller is not allowed this scope or id"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "POLICY_DENIED";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description No account of the broker has this alias. Codes: UNKNOWN_ACCOUNT */
                404: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "UNKNOWN_ACCOUNT",
                         *         "message": "No account has this alias: see the broker's ACCOUNTS_FILE"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "UNKNOWN_ACCOUNT";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description Over this caller's rate limit, or (for a token not cached) its mint budget, from the policy; retry after Retry-After seconds. Codes: RATE_LIMITED, MINT_BUDGET_EXCEEDED */
                429: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        /** @description Seconds to wait before retrying */
                        "retry-after"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "RATE_LIMITED",
                         *         "message": "Too many requests from this caller; retry later"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "RATE_LIMITED" | "MINT_BUDGET_EXCEEDED";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description ARM refused the request (4xx); ARM's error code is in details. Codes: ARM_ERROR */
                502: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "ARM_ERROR",
                         *         "message": "Azure Resource Manager refused to issue the token"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "ARM_ERROR";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description ARM is throttling, failing or unreachable, or the broker cannot audit or is overloaded; retry after Retry-After seconds. Codes: ARM_THROTTLED, ARM_UNAVAILABLE, IDENTITY_UNAVAILABLE, JWKS_UNAVAILABLE, AUDIT_UNAVAILABLE, OVERLOADED */
                503: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        /** @description Seconds to wait before retrying */
                        "retry-after"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "ARM_THROTTLED",
                         *         "message": "Azure Resource Manager is throttling token requests; retry later"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "ARM_THROTTLED" | "ARM_UNAVAILABLE" | "IDENTITY_UNAVAILABLE" | "JWKS_UNAVAILABLE" | "AUDIT_UNAVAILABLE" | "OVERLOADED";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description ARM did not answer within the deadline. Codes: ARM_TIMEOUT */
                504: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "ARM_TIMEOUT",
                         *         "message": "Azure Resource Manager did not answer in time"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "ARM_TIMEOUT";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/accounts/{alias}/tokens/project/{projectId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Get a Project-scope token of the account of this alias */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /**
                     * @description An account alias from the ACCOUNTS_FILE (^[a-z0-9][a-z0-9-]{0,62}$)
                     * @example eu-prod
                     */
                    alias: string;
                    /**
                     * @description The Video Indexer project id
                     * @example 07ec9e38d4
                     */
                    projectId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description The token. It always has at least TOKEN_MIN_REMAINING_SECONDS (300 s by default) of life left */
                200: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        /** @description Tokens must not be stored by intermediaries */
                        "cache-control"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "accessToken": "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJTY29wZSI6IlByb2plY3QifQ.c2lnbmF0dXJl",
                         *       "scope": "Project",
                         *       "projectId": "07ec9e38d4",
                         *       "accountName": "contosto-azurevideoindexer",
                         *       "expiresOn": "2026-11-27T13:00:00.000Z",
                         *       "account": {
                         *         "alias": "default",
                         *         "accountName": "contosto-azurevideoindexer",
                         *         "accountId": "462af7c5-d1f6-4b91-86e3-8bc5e8a61574",
                         *         "location": "northeurope"
                         *       }
                         *     }
                         */
                        "application/json": {
                            /** @description Restricted viewer access token for Video Indexer (a JWT, about 1 hour of life) */
                            accessToken: string;
                            /**
                             * @description ARM's name of the token's scope
                             * @enum {unknown}
                             */
                            scope: "Account" | "Project" | "Video";
                            /** @description Present for Video scope */
                            videoId?: string;
                            /** @description Present for Project scope */
                            projectId?: string;
                            /** @description The Video Indexer account (its ARM resource name) */
                            accountName: string;
                            /**
                             * Format: date-time
                             * @description When the token expires (ISO-8601, UTC)
                             */
                            expiresOn: string;
                            /** @description The account, once the broker has read it from Azure (absent until then) */
                            account?: {
                                /** @description The account's alias in the broker (default without ACCOUNTS_FILE) */
                                alias: string;
                                /** @description Its ARM resource name */
                                accountName: string;
                                /** @description Its Video Indexer account id (properties.accountId), for embed URLs */
                                accountId: string;
                                /** @description Its region in lower case, as the widgets take it (e.g. northeurope) */
                                location: string;
                            };
                            /** @description Video scope, once the account is read: the widget URLs (VI_WEB_BASE_URL/embed/...) */
                            embed?: {
                                /** @description The player widget URL, with the token and location */
                                player: string;
                                /** @description The insights widget URL, with the token and location */
                                insights: string;
                            };
                        };
                    };
                };
                /** @description The id does not match ^[A-Za-z0-9_-]{1,64}$; checked before the policy and ARM. Codes: INVALID_ID */
                400: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "INVALID_ID",
                         *         "message": "The id must match ^[A-Za-z0-9_-]{1,64}$"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "INVALID_ID";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description No valid caller JWT. Codes: AUTH_REQUIRED, AUTH_INVALID, AUTH_EXPIRED, AUTH_NO_CALLER */
                401: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        "www-authenticate"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "AUTH_REQUIRED",
                         *         "message": "A bearer token is required in the Authorization header"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "AUTH_REQUIRED" | "AUTH_INVALID" | "AUTH_EXPIRED" | "AUTH_NO_CALLER";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description The policy does not allow this caller this scope, id or account. Codes: POLICY_DENIED */
                403: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "POLICY_DENIED",
                         *         "message": "The caller is not allowed this scope or id"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "POLICY_DENIED";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description No account of the broker has this alias. Codes: UNKNOWN_ACCOUNT */
                404: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "UNKNOWN_ACCOUNT",
                         *         "message": "No account has this alias: see the broker's ACCOUNTS_FILE"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "UNKNOWN_ACCOUNT";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description Over this caller's rate limit, or (for a token not cached) its mint budget, from the policy; retry after Retry-After seconds. Codes: RATE_LIMITED, MINT_BUDGET_EXCEEDED */
                429: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        /** @description Seconds to wait before retrying */
                        "retry-after"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "RATE_LIMITED",
                         *         "message": "Too many requests from this caller; retry later"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "RATE_LIMITED" | "MINT_BUDGET_EXCEEDED";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description ARM refused the request (4xx); ARM's error code is in details. Codes: ARM_ERROR */
                502: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "ARM_ERROR",
                         *         "message": "Azure Resource Manager refused to issue the token"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "ARM_ERROR";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description ARM is throttling, failing or unreachable, or the broker cannot audit or is overloaded; retry after Retry-After seconds. Codes: ARM_THROTTLED, ARM_UNAVAILABLE, IDENTITY_UNAVAILABLE, JWKS_UNAVAILABLE, AUDIT_UNAVAILABLE, OVERLOADED */
                503: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        /** @description Seconds to wait before retrying */
                        "retry-after"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "ARM_THROTTLED",
                         *         "message": "Azure Resource Manager is throttling token requests; retry later"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "ARM_THROTTLED" | "ARM_UNAVAILABLE" | "IDENTITY_UNAVAILABLE" | "JWKS_UNAVAILABLE" | "AUDIT_UNAVAILABLE" | "OVERLOADED";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description ARM did not answer within the deadline. Codes: ARM_TIMEOUT */
                504: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "ARM_TIMEOUT",
                         *         "message": "Azure Resource Manager did not answer in time"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "ARM_TIMEOUT";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/accounts/{alias}/tokens/video/{videoId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Get a Video-scope token of the account of this alias
         * @description The token lets a player or insights widget show this one video; once the account is read from Azure, the answer carries the widget URLs too.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /**
                     * @description An account alias from the ACCOUNTS_FILE (^[a-z0-9][a-z0-9-]{0,62}$)
                     * @example eu-prod
                     */
                    alias: string;
                    /**
                     * @description The Video Indexer video id
                     * @example 07ec9e38d4
                     */
                    videoId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description The token. It always has at least TOKEN_MIN_REMAINING_SECONDS (300 s by default) of life left */
                200: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        /** @description Tokens must not be stored by intermediaries */
                        "cache-control"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "accessToken": "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJTY29wZSI6IlZpZGVvIn0.c2lnbmF0dXJl",
                         *       "scope": "Video",
                         *       "videoId": "07ec9e38d4",
                         *       "accountName": "contosto-azurevideoindexer",
                         *       "expiresOn": "2026-11-27T13:00:00.000Z",
                         *       "account": {
                         *         "alias": "default",
                         *         "accountName": "contosto-azurevideoindexer",
                         *         "accountId": "462af7c5-d1f6-4b91-86e3-8bc5e8a61574",
                         *         "location": "northeurope"
                         *       },
                         *       "embed": {
                         *         "player": "https://www.videoindexer.ai/embed/player/462af7c5-d1f6-4b91-86e3-8bc5e8a61574/07ec9e38d4/?accessToken=eyJ0eXAi...&location=northeurope",
                         *         "insights": "https://www.videoindexer.ai/embed/insights/462af7c5-d1f6-4b91-86e3-8bc5e8a61574/07ec9e38d4/?accessToken=eyJ0eXAi...&location=northeurope"
                         *       }
                         *     }
                         */
                        "application/json": {
                            /** @description Restricted viewer access token for Video Indexer (a JWT, about 1 hour of life) */
                            accessToken: string;
                            /**
                             * @description ARM's name of the token's scope
                             * @enum {unknown}
                             */
                            scope: "Account" | "Project" | "Video";
                            /** @description Present for Video scope */
                            videoId?: string;
                            /** @description Present for Project scope */
                            projectId?: string;
                            /** @description The Video Indexer account (its ARM resource name) */
                            accountName: string;
                            /**
                             * Format: date-time
                             * @description When the token expires (ISO-8601, UTC)
                             */
                            expiresOn: string;
                            /** @description The account, once the broker has read it from Azure (absent until then) */
                            account?: {
                                /** @description The account's alias in the broker (default without ACCOUNTS_FILE) */
                                alias: string;
                                /** @description Its ARM resource name */
                                accountName: string;
                                /** @description Its Video Indexer account id (properties.accountId), for embed URLs */
                                accountId: string;
                                /** @description Its region in lower case, as the widgets take it (e.g. northeurope) */
                                location: string;
                            };
                            /** @description Video scope, once the account is read: the widget URLs (VI_WEB_BASE_URL/embed/...) */
                            embed?: {
                                /** @description The player widget URL, with the token and location */
                                player: string;
                                /** @description The insights widget URL, with the token and location */
                                insights: string;
                            };
                        };
                    };
                };
                /** @description The id does not match ^[A-Za-z0-9_-]{1,64}$; checked before the policy and ARM. Codes: INVALID_ID */
                400: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "INVALID_ID",
                         *         "message": "The id must match ^[A-Za-z0-9_-]{1,64}$"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "INVALID_ID";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description No valid caller JWT. Codes: AUTH_REQUIRED, AUTH_INVALID, AUTH_EXPIRED, AUTH_NO_CALLER */
                401: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        "www-authenticate"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "AUTH_REQUIRED",
                         *         "message": "A bearer token is required in the Authorization header"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "AUTH_REQUIRED" | "AUTH_INVALID" | "AUTH_EXPIRED" | "AUTH_NO_CALLER";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description The policy does not allow this caller this scope, id or account. Codes: POLICY_DENIED */
                403: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "POLICY_DENIED",
                         *         "message": "The caller is not allowed this scope or id"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "POLICY_DENIED";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description No account of the broker has this alias. Codes: UNKNOWN_ACCOUNT */
                404: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "UNKNOWN_ACCOUNT",
                         *         "message": "No account has this alias: see the broker's ACCOUNTS_FILE"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "UNKNOWN_ACCOUNT";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description Over this caller's rate limit, or (for a token not cached) its mint budget, from the policy; retry after Retry-After seconds. Codes: RATE_LIMITED, MINT_BUDGET_EXCEEDED */
                429: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        /** @description Seconds to wait before retrying */
                        "retry-after"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "RATE_LIMITED",
                         *         "message": "Too many requests from this caller; retry later"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "RATE_LIMITED" | "MINT_BUDGET_EXCEEDED";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description ARM refused the request (4xx); ARM's error code is in details. Codes: ARM_ERROR */
                502: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "ARM_ERROR",
                         *         "message": "Azure Resource Manager refused to issue the token"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "ARM_ERROR";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description ARM is throttling, failing or unreachable, or the broker cannot audit or is overloaded; retry after Retry-After seconds. Codes: ARM_THROTTLED, ARM_UNAVAILABLE, IDENTITY_UNAVAILABLE, JWKS_UNAVAILABLE, AUDIT_UNAVAILABLE, OVERLOADED */
                503: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        /** @description Seconds to wait before retrying */
                        "retry-after"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "ARM_THROTTLED",
                         *         "message": "Azure Resource Manager is throttling token requests; retry later"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "ARM_THROTTLED" | "ARM_UNAVAILABLE" | "IDENTITY_UNAVAILABLE" | "JWKS_UNAVAILABLE" | "AUDIT_UNAVAILABLE" | "OVERLOADED";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description ARM did not answer within the deadline. Codes: ARM_TIMEOUT */
                504: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "ARM_TIMEOUT",
                         *         "message": "Azure Resource Manager did not answer in time"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "ARM_TIMEOUT";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/embed/player/{videoId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Get a player widget URL for a video of the default account
         * @description Widget options go in the query string and are passed on: `t`: Start time in seconds; `captions`: Caption language, e.g. en-US; `showCaptions`: Show captions on load: true or false; `type`: audio: the audio player skin; `autoplay`: Start playing on load: true or false; `locale`: UI language, e.g. es-ES; `language`: Insights language, e.g. en-US; `boundingBoxes`: Comma list of observedPeople, people, detectedObjects. Any other name, or a malformed value, is 400 INVALID_EMBED_OPTION.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /**
                     * @description The Video Indexer video id
                     * @example 07ec9e38d4
                     */
                    videoId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description The widget URL, for an iframe */
                200: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        /** @description Tokens must not be stored by intermediaries */
                        "cache-control"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description The widget URL: token, location and the options given */
                            url: string;
                            /**
                             * Format: date-time
                             * @description When the URL's token expires
                             */
                            expiresOn: string;
                            videoId: string;
                            /** @description The account, once the broker has read it from Azure (absent until then) */
                            account: {
                                /** @description The account's alias in the broker (default without ACCOUNTS_FILE) */
                                alias: string;
                                /** @description Its ARM resource name */
                                accountName: string;
                                /** @description Its Video Indexer account id (properties.accountId), for embed URLs */
                                accountId: string;
                                /** @description Its region in lower case, as the widgets take it (e.g. northeurope) */
                                location: string;
                            };
                        };
                    };
                };
                /** @description The id is malformed, or a widget option is unknown or malformed. Codes: INVALID_ID, INVALID_EMBED_OPTION */
                400: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "INVALID_ID",
                         *         "message": "The id must match ^[A-Za-z0-9_-]{1,64}$"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "INVALID_ID" | "INVALID_EMBED_OPTION";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description No valid caller JWT. Codes: AUTH_REQUIRED, AUTH_INVALID, AUTH_EXPIRED, AUTH_NO_CALLER */
                401: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        "www-authenticate"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "AUTH_REQUIRED",
                         *         "message": "A bearer token is required in the Authorization header"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "AUTH_REQUIRED" | "AUTH_INVALID" | "AUTH_EXPIRED" | "AUTH_NO_CALLER";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description The policy does not allow this caller this scope, id or account. Codes: POLICY_DENIED */
                403: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "POLICY_DENIED",
                         *         "message": "The caller is not allowed this scope or id"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "POLICY_DENIED";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description Over this caller's rate limit, or (for a token not cached) its mint budget, from the policy; retry after Retry-After seconds. Codes: RATE_LIMITED, MINT_BUDGET_EXCEEDED */
                429: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        /** @description Seconds to wait before retrying */
                        "retry-after"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "RATE_LIMITED",
                         *         "message": "Too many requests from this caller; retry later"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "RATE_LIMITED" | "MINT_BUDGET_EXCEEDED";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description ARM refused the request (4xx); ARM's error code is in details. Codes: ARM_ERROR */
                502: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "ARM_ERROR",
                         *         "message": "Azure Resource Manager refused to issue the token"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "ARM_ERROR";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description As for a token, or the account's id and location are not read yet; retry after Retry-After seconds. Codes: ARM_THROTTLED, ARM_UNAVAILABLE, IDENTITY_UNAVAILABLE, JWKS_UNAVAILABLE, AUDIT_UNAVAILABLE, OVERLOADED, ACCOUNT_METADATA_PENDING */
                503: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        /** @description Seconds to wait before retrying */
                        "retry-after"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "ARM_THROTTLED",
                         *         "message": "Azure Resource Manager is throttling token requests; retry later"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "ARM_THROTTLED" | "ARM_UNAVAILABLE" | "IDENTITY_UNAVAILABLE" | "JWKS_UNAVAILABLE" | "AUDIT_UNAVAILABLE" | "OVERLOADED" | "ACCOUNT_METADATA_PENDING";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description ARM did not answer within the deadline. Codes: ARM_TIMEOUT */
                504: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "ARM_TIMEOUT",
                         *         "message": "Azure Resource Manager did not answer in time"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "ARM_TIMEOUT";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/embed/insights/{videoId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Get a insights widget URL for a video of the default account
         * @description Widget options go in the query string and are passed on: `widgets`: Comma list of people, keywords, audioEffects, labels, sentiments, emotions, topics, keyframes, transcript, ocr, speakers, scenes, spokenLanguage, observedPeople, namedEntities, detectedObjects; `controls`: Comma list of search, download, presets, language; `language`: Insights language, e.g. en-US; `locale`: UI language, e.g. es-ES; `tab`: insights or timeline; `search`: Text to search for, up to 200 characters; `sort`: <widget>_<property>_<asc|desc>, comma separated; `title`: The widget title, up to 200 characters. Any other name, or a malformed value, is 400 INVALID_EMBED_OPTION.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /**
                     * @description The Video Indexer video id
                     * @example 07ec9e38d4
                     */
                    videoId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description The widget URL, for an iframe */
                200: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        /** @description Tokens must not be stored by intermediaries */
                        "cache-control"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description The widget URL: token, location and the options given */
                            url: string;
                            /**
                             * Format: date-time
                             * @description When the URL's token expires
                             */
                            expiresOn: string;
                            videoId: string;
                            /** @description The account, once the broker has read it from Azure (absent until then) */
                            account: {
                                /** @description The account's alias in the broker (default without ACCOUNTS_FILE) */
                                alias: string;
                                /** @description Its ARM resource name */
                                accountName: string;
                                /** @description Its Video Indexer account id (properties.accountId), for embed URLs */
                                accountId: string;
                                /** @description Its region in lower case, as the widgets take it (e.g. northeurope) */
                                location: string;
                            };
                        };
                    };
                };
                /** @description The id is malformed, or a widget option is unknown or malformed. Codes: INVALID_ID, INVALID_EMBED_OPTION */
                400: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "INVALID_ID",
                         *         "message": "The id must match ^[A-Za-z0-9_-]{1,64}$"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "INVALID_ID" | "INVALID_EMBED_OPTION";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description No valid caller JWT. Codes: AUTH_REQUIRED, AUTH_INVALID, AUTH_EXPIRED, AUTH_NO_CALLER */
                401: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        "www-authenticate"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "AUTH_REQUIRED",
                         *         "message": "A bearer token is required in the Authorization header"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "AUTH_REQUIRED" | "AUTH_INVALID" | "AUTH_EXPIRED" | "AUTH_NO_CALLER";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description The policy does not allow this caller this scope, id or account. Codes: POLICY_DENIED */
                403: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "POLICY_DENIED",
                         *         "message": "The caller is not allowed this scope or id"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "POLICY_DENIED";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description Over this caller's rate limit, or (for a token not cached) its mint budget, from the policy; retry after Retry-After seconds. Codes: RATE_LIMITED, MINT_BUDGET_EXCEEDED */
                429: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        /** @description Seconds to wait before retrying */
                        "retry-after"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "RATE_LIMITED",
                         *         "message": "Too many requests from this caller; retry later"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "RATE_LIMITED" | "MINT_BUDGET_EXCEEDED";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description ARM refused the request (4xx); ARM's error code is in details. Codes: ARM_ERROR */
                502: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "ARM_ERROR",
                         *         "message": "Azure Resource Manager refused to issue the token"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "ARM_ERROR";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description As for a token, or the account's id and location are not read yet; retry after Retry-After seconds. Codes: ARM_THROTTLED, ARM_UNAVAILABLE, IDENTITY_UNAVAILABLE, JWKS_UNAVAILABLE, AUDIT_UNAVAILABLE, OVERLOADED, ACCOUNT_METADATA_PENDING */
                503: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        /** @description Seconds to wait before retrying */
                        "retry-after"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "ARM_THROTTLED",
                         *         "message": "Azure Resource Manager is throttling token requests; retry later"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "ARM_THROTTLED" | "ARM_UNAVAILABLE" | "IDENTITY_UNAVAILABLE" | "JWKS_UNAVAILABLE" | "AUDIT_UNAVAILABLE" | "OVERLOADED" | "ACCOUNT_METADATA_PENDING";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description ARM did not answer within the deadline. Codes: ARM_TIMEOUT */
                504: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "ARM_TIMEOUT",
                         *         "message": "Azure Resource Manager did not answer in time"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "ARM_TIMEOUT";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/accounts/{alias}/embed/player/{videoId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Get a player widget URL for a video of the account of this alias
         * @description Widget options go in the query string and are passed on: `t`: Start time in seconds; `captions`: Caption language, e.g. en-US; `showCaptions`: Show captions on load: true or false; `type`: audio: the audio player skin; `autoplay`: Start playing on load: true or false; `locale`: UI language, e.g. es-ES; `language`: Insights language, e.g. en-US; `boundingBoxes`: Comma list of observedPeople, people, detectedObjects. Any other name, or a malformed value, is 400 INVALID_EMBED_OPTION.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /**
                     * @description An account alias from the ACCOUNTS_FILE (^[a-z0-9][a-z0-9-]{0,62}$)
                     * @example eu-prod
                     */
                    alias: string;
                    /**
                     * @description The Video Indexer video id
                     * @example 07ec9e38d4
                     */
                    videoId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description The widget URL, for an iframe */
                200: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        /** @description Tokens must not be stored by intermediaries */
                        "cache-control"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description The widget URL: token, location and the options given */
                            url: string;
                            /**
                             * Format: date-time
                             * @description When the URL's token expires
                             */
                            expiresOn: string;
                            videoId: string;
                            /** @description The account, once the broker has read it from Azure (absent until then) */
                            account: {
                                /** @description The account's alias in the broker (default without ACCOUNTS_FILE) */
                                alias: string;
                                /** @description Its ARM resource name */
                                accountName: string;
                                /** @description Its Video Indexer account id (properties.accountId), for embed URLs */
                                accountId: string;
                                /** @description Its region in lower case, as the widgets take it (e.g. northeurope) */
                                location: string;
                            };
                        };
                    };
                };
                /** @description The id is malformed, or a widget option is unknown or malformed. Codes: INVALID_ID, INVALID_EMBED_OPTION */
                400: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "INVALID_ID",
                         *         "message": "The id must match ^[A-Za-z0-9_-]{1,64}$"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "INVALID_ID" | "INVALID_EMBED_OPTION";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description No valid caller JWT. Codes: AUTH_REQUIRED, AUTH_INVALID, AUTH_EXPIRED, AUTH_NO_CALLER */
                401: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        "www-authenticate"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "AUTH_REQUIRED",
                         *         "message": "A bearer token is required in the Authorization header"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "AUTH_REQUIRED" | "AUTH_INVALID" | "AUTH_EXPIRED" | "AUTH_NO_CALLER";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description The policy does not allow this caller this scope, id or account. Codes: POLICY_DENIED */
                403: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "POLICY_DENIED",
                         *         "message": "The caller is not allowed this scope or id"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "POLICY_DENIED";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description No account of the broker has this alias. Codes: UNKNOWN_ACCOUNT */
                404: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "UNKNOWN_ACCOUNT",
                         *         "message": "No account has this alias: see the broker's ACCOUNTS_FILE"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "UNKNOWN_ACCOUNT";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description Over this caller's rate limit, or (for a token not cached) its mint budget, from the policy; retry after Retry-After seconds. Codes: RATE_LIMITED, MINT_BUDGET_EXCEEDED */
                429: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        /** @description Seconds to wait before retrying */
                        "retry-after"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "RATE_LIMITED",
                         *         "message": "Too many requests from this caller; retry later"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "RATE_LIMITED" | "MINT_BUDGET_EXCEEDED";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description ARM refused the request (4xx); ARM's error code is in details. Codes: ARM_ERROR */
                502: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "ARM_ERROR",
                         *         "message": "Azure Resource Manager refused to issue the token"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "ARM_ERROR";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description As for a token, or the account's id and location are not read yet; retry after Retry-After seconds. Codes: ARM_THROTTLED, ARM_UNAVAILABLE, IDENTITY_UNAVAILABLE, JWKS_UNAVAILABLE, AUDIT_UNAVAILABLE, OVERLOADED, ACCOUNT_METADATA_PENDING */
                503: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        /** @description Seconds to wait before retrying */
                        "retry-after"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "ARM_THROTTLED",
                         *         "message": "Azure Resource Manager is throttling token requests; retry later"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "ARM_THROTTLED" | "ARM_UNAVAILABLE" | "IDENTITY_UNAVAILABLE" | "JWKS_UNAVAILABLE" | "AUDIT_UNAVAILABLE" | "OVERLOADED" | "ACCOUNT_METADATA_PENDING";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description ARM did not answer within the deadline. Codes: ARM_TIMEOUT */
                504: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "ARM_TIMEOUT",
                         *         "message": "Azure Resource Manager did not answer in time"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "ARM_TIMEOUT";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/accounts/{alias}/embed/insights/{videoId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Get a insights widget URL for a video of the account of this alias
         * @description Widget options go in the query string and are passed on: `widgets`: Comma list of people, keywords, audioEffects, labels, sentiments, emotions, topics, keyframes, transcript, ocr, speakers, scenes, spokenLanguage, observedPeople, namedEntities, detectedObjects; `controls`: Comma list of search, download, presets, language; `language`: Insights language, e.g. en-US; `locale`: UI language, e.g. es-ES; `tab`: insights or timeline; `search`: Text to search for, up to 200 characters; `sort`: <widget>_<property>_<asc|desc>, comma separated; `title`: The widget title, up to 200 characters. Any other name, or a malformed value, is 400 INVALID_EMBED_OPTION.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /**
                     * @description An account alias from the ACCOUNTS_FILE (^[a-z0-9][a-z0-9-]{0,62}$)
                     * @example eu-prod
                     */
                    alias: string;
                    /**
                     * @description The Video Indexer video id
                     * @example 07ec9e38d4
                     */
                    videoId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description The widget URL, for an iframe */
                200: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        /** @description Tokens must not be stored by intermediaries */
                        "cache-control"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description The widget URL: token, location and the options given */
                            url: string;
                            /**
                             * Format: date-time
                             * @description When the URL's token expires
                             */
                            expiresOn: string;
                            videoId: string;
                            /** @description The account, once the broker has read it from Azure (absent until then) */
                            account: {
                                /** @description The account's alias in the broker (default without ACCOUNTS_FILE) */
                                alias: string;
                                /** @description Its ARM resource name */
                                accountName: string;
                                /** @description Its Video Indexer account id (properties.accountId), for embed URLs */
                                accountId: string;
                                /** @description Its region in lower case, as the widgets take it (e.g. northeurope) */
                                location: string;
                            };
                        };
                    };
                };
                /** @description The id is malformed, or a widget option is unknown or malformed. Codes: INVALID_ID, INVALID_EMBED_OPTION */
                400: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "INVALID_ID",
                         *         "message": "The id must match ^[A-Za-z0-9_-]{1,64}$"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "INVALID_ID" | "INVALID_EMBED_OPTION";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description No valid caller JWT. Codes: AUTH_REQUIRED, AUTH_INVALID, AUTH_EXPIRED, AUTH_NO_CALLER */
                401: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        "www-authenticate"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "AUTH_REQUIRED",
                         *         "message": "A bearer token is required in the Authorization header"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "AUTH_REQUIRED" | "AUTH_INVALID" | "AUTH_EXPIRED" | "AUTH_NO_CALLER";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description The policy does not allow this caller this scope, id or account. Codes: POLICY_DENIED */
                403: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "POLICY_DENIED",
                         *         "message": "The caller is not allowed this scope or id"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "POLICY_DENIED";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description No account of the broker has this alias. Codes: UNKNOWN_ACCOUNT */
                404: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "UNKNOWN_ACCOUNT",
                         *         "message": "No account has this alias: see the broker's ACCOUNTS_FILE"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "UNKNOWN_ACCOUNT";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description Over this caller's rate limit, or (for a token not cached) its mint budget, from the policy; retry after Retry-After seconds. Codes: RATE_LIMITED, MINT_BUDGET_EXCEEDED */
                429: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        /** @description Seconds to wait before retrying */
                        "retry-after"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "RATE_LIMITED",
                         *         "message": "Too many requests from this caller; retry later"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "RATE_LIMITED" | "MINT_BUDGET_EXCEEDED";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description ARM refused the request (4xx); ARM's error code is in details. Codes: ARM_ERROR */
                502: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "ARM_ERROR",
                         *         "message": "Azure Resource Manager refused to issue the token"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "ARM_ERROR";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description As for a token, or the account's id and location are not read yet; retry after Retry-After seconds. Codes: ARM_THROTTLED, ARM_UNAVAILABLE, IDENTITY_UNAVAILABLE, JWKS_UNAVAILABLE, AUDIT_UNAVAILABLE, OVERLOADED, ACCOUNT_METADATA_PENDING */
                503: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        /** @description Seconds to wait before retrying */
                        "retry-after"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "ARM_THROTTLED",
                         *         "message": "Azure Resource Manager is throttling token requests; retry later"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "ARM_THROTTLED" | "ARM_UNAVAILABLE" | "IDENTITY_UNAVAILABLE" | "JWKS_UNAVAILABLE" | "AUDIT_UNAVAILABLE" | "OVERLOADED" | "ACCOUNT_METADATA_PENDING";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description ARM did not answer within the deadline. Codes: ARM_TIMEOUT */
                504: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "ARM_TIMEOUT",
                         *         "message": "Azure Resource Manager did not answer in time"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "ARM_TIMEOUT";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/tokens/batch": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Get many tokens of the default account at once
         * @description Up to BATCH_MAX_ITEMS (here 100) token requests, each answered in its slot, in order, with the status and body its own GET would have had. Each item is authorised, rate limited and audited as a request of its own; duplicates share one mint. A fault in any item refuses the whole batch (400 INVALID_BATCH, naming the item).
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    /**
                     * @example {
                     *       "requests": [
                     *         {
                     *           "scope": "video",
                     *           "id": "07ec9e38d4"
                     *         },
                     *         {
                     *           "scope": "project",
                     *           "id": "07ec9e38d4"
                     *         }
                     *       ]
                     *     }
                     */
                    "application/json": {
                        /** @description 1 to 100 (BATCH_MAX_ITEMS) */
                        requests: {
                            /** @enum {unknown} */
                            scope: "account" | "project" | "video";
                            /** @description The video or project id; none for account */
                            id?: string;
                        }[];
                    };
                };
            };
            responses: {
                /** @description Every item answered, each with its own status; a 200 says only that the batch was read */
                200: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        /** @description Tokens must not be stored by intermediaries */
                        "cache-control"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "batchId": "3b241101-e2bb-4255-8caf-4136c566a962",
                         *       "results": [
                         *         {
                         *           "status": 200,
                         *           "accessToken": "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJTY29wZSI6IlZpZGVvIn0.c2lnbmF0dXJl",
                         *           "scope": "Video",
                         *           "videoId": "07ec9e38d4",
                         *           "accountName": "contosto-azurevideoindexer",
                         *           "expiresOn": "2026-11-27T13:00:00.000Z",
                         *           "account": {
                         *             "alias": "default",
                         *             "accountName": "contosto-azurevideoindexer",
                         *             "accountId": "462af7c5-d1f6-4b91-86e3-8bc5e8a61574",
                         *             "location": "northeurope"
                         *           },
                         *           "embed": {
                         *             "player": "https://www.videoindexer.ai/embed/player/462af7c5-d1f6-4b91-86e3-8bc5e8a61574/07ec9e38d4/?accessToken=eyJ0eXAi...&location=northeurope",
                         *             "insights": "https://www.videoindexer.ai/embed/insights/462af7c5-d1f6-4b91-86e3-8bc5e8a61574/07ec9e38d4/?accessToken=eyJ0eXAi...&location=northeurope"
                         *           }
                         *         },
                         *         {
                         *           "status": 403,
                         *           "error": {
                         *             "code": "POLICY_DENIED",
                         *             "message": "The caller is not allowed this scope or id"
                         *           }
                         *         }
                         *       ]
                         *     }
                         */
                        "application/json": {
                            /**
                             * Format: uuid
                             * @description The batchId of this batch's audit records
                             */
                            batchId: string;
                            /** @description One per request, in request order */
                            results: ({
                                /** @enum {number} */
                                status: 200;
                                /** @description Restricted viewer access token for Video Indexer (a JWT, about 1 hour of life) */
                                accessToken: string;
                                /**
                                 * @description ARM's name of the token's scope
                                 * @enum {unknown}
                                 */
                                scope: "Account" | "Project" | "Video";
                                /** @description Present for Video scope */
                                videoId?: string;
                                /** @description Present for Project scope */
                                projectId?: string;
                                /** @description The Video Indexer account (its ARM resource name) */
                                accountName: string;
                                /**
                                 * Format: date-time
                                 * @description When the token expires (ISO-8601, UTC)
                                 */
                                expiresOn: string;
                                /** @description The account, once the broker has read it from Azure (absent until then) */
                                account?: {
                                    /** @description The account's alias in the broker (default without ACCOUNTS_FILE) */
                                    alias: string;
                                    /** @description Its ARM resource name */
                                    accountName: string;
                                    /** @description Its Video Indexer account id (properties.accountId), for embed URLs */
                                    accountId: string;
                                    /** @description Its region in lower case, as the widgets take it (e.g. northeurope) */
                                    location: string;
                                };
                                /** @description Video scope, once the account is read: the widget URLs (VI_WEB_BASE_URL/embed/...) */
                                embed?: {
                                    /** @description The player widget URL, with the token and location */
                                    player: string;
                                    /** @description The insights widget URL, with the token and location */
                                    insights: string;
                                };
                            } | {
                                /** @description The status the item's own request would have had */
                                status: number;
                                error: {
                                    /**
                                     * @description A code from the error catalogue: POLICY_DENIED, RATE_LIMITED, MINT_BUDGET_EXCEEDED, ARM_ERROR, ARM_THROTTLED, ARM_UNAVAILABLE, IDENTITY_UNAVAILABLE, ARM_TIMEOUT, INTERNAL_ERROR
                                     * @enum {unknown}
                                     */
                                    code: "POLICY_DENIED" | "RATE_LIMITED" | "MINT_BUDGET_EXCEEDED" | "ARM_ERROR" | "ARM_THROTTLED" | "ARM_UNAVAILABLE" | "IDENTITY_UNAVAILABLE" | "ARM_TIMEOUT" | "INTERNAL_ERROR";
                                    message: string;
                                    details?: {
                                        code: string;
                                        message: string;
                                    }[];
                                };
                                /** @description For 429 and 503 items: what the Retry-After header would have said */
                                retryAfterSeconds?: number;
                            })[];
                        };
                    };
                };
                /** @description The body is not a valid batch; the message names the first bad item. Codes: INVALID_BATCH, INVALID_REQUEST */
                400: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "INVALID_BATCH",
                         *         "message": "The batch is not valid: {problem}"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "INVALID_BATCH" | "INVALID_REQUEST";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description No valid caller JWT. Codes: AUTH_REQUIRED, AUTH_INVALID, AUTH_EXPIRED, AUTH_NO_CALLER */
                401: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        "www-authenticate"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "AUTH_REQUIRED",
                         *         "message": "A bearer token is required in the Authorization header"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "AUTH_REQUIRED" | "AUTH_INVALID" | "AUTH_EXPIRED" | "AUTH_NO_CALLER";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description The body is larger than a batch of BATCH_MAX_ITEMS requests. Codes: BODY_TOO_LARGE */
                413: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "BODY_TOO_LARGE",
                         *         "message": "The request body is larger than a batch of BATCH_MAX_ITEMS requests"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "BODY_TOO_LARGE";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description The body is not application/json. Codes: UNSUPPORTED_MEDIA_TYPE */
                415: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "UNSUPPORTED_MEDIA_TYPE",
                         *         "message": "The request body must be application/json"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "UNSUPPORTED_MEDIA_TYPE";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description Over this caller's rate limit, or (for a token not cached) its mint budget, from the policy; retry after Retry-After seconds. Codes: RATE_LIMITED, MINT_BUDGET_EXCEEDED */
                429: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        /** @description Seconds to wait before retrying */
                        "retry-after"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "RATE_LIMITED",
                         *         "message": "Too many requests from this caller; retry later"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "RATE_LIMITED" | "MINT_BUDGET_EXCEEDED";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description The broker cannot verify callers, cannot audit or is overloaded; retry after Retry-After seconds. Codes: JWKS_UNAVAILABLE, AUDIT_UNAVAILABLE, OVERLOADED */
                503: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        /** @description Seconds to wait before retrying */
                        "retry-after"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "JWKS_UNAVAILABLE",
                         *         "message": "The signing keys for caller tokens could not be fetched; retry later"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "JWKS_UNAVAILABLE" | "AUDIT_UNAVAILABLE" | "OVERLOADED";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/accounts/{alias}/tokens/batch": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Get many tokens of the account of this alias at once
         * @description Up to BATCH_MAX_ITEMS (here 100) token requests, each answered in its slot, in order, with the status and body its own GET would have had. Each item is authorised, rate limited and audited as a request of its own; duplicates share one mint. A fault in any item refuses the whole batch (400 INVALID_BATCH, naming the item).
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /**
                     * @description An account alias from the ACCOUNTS_FILE (^[a-z0-9][a-z0-9-]{0,62}$)
                     * @example eu-prod
                     */
                    alias: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    /**
                     * @example {
                     *       "requests": [
                     *         {
                     *           "scope": "video",
                     *           "id": "07ec9e38d4"
                     *         },
                     *         {
                     *           "scope": "project",
                     *           "id": "07ec9e38d4"
                     *         }
                     *       ]
                     *     }
                     */
                    "application/json": {
                        /** @description 1 to 100 (BATCH_MAX_ITEMS) */
                        requests: {
                            /** @enum {unknown} */
                            scope: "account" | "project" | "video";
                            /** @description The video or project id; none for account */
                            id?: string;
                        }[];
                    };
                };
            };
            responses: {
                /** @description Every item answered, each with its own status; a 200 says only that the batch was read */
                200: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        /** @description Tokens must not be stored by intermediaries */
                        "cache-control"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "batchId": "3b241101-e2bb-4255-8caf-4136c566a962",
                         *       "results": [
                         *         {
                         *           "status": 200,
                         *           "accessToken": "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJTY29wZSI6IlZpZGVvIn0.c2lnbmF0dXJl",
                         *           "scope": "Video",
                         *           "videoId": "07ec9e38d4",
                         *           "accountName": "contosto-azurevideoindexer",
                         *           "expiresOn": "2026-11-27T13:00:00.000Z",
                         *           "account": {
                         *             "alias": "default",
                         *             "accountName": "contosto-azurevideoindexer",
                         *             "accountId": "462af7c5-d1f6-4b91-86e3-8bc5e8a61574",
                         *             "location": "northeurope"
                         *           },
                         *           "embed": {
                         *             "player": "https://www.videoindexer.ai/embed/player/462af7c5-d1f6-4b91-86e3-8bc5e8a61574/07ec9e38d4/?accessToken=eyJ0eXAi...&location=northeurope",
                         *             "insights": "https://www.videoindexer.ai/embed/insights/462af7c5-d1f6-4b91-86e3-8bc5e8a61574/07ec9e38d4/?accessToken=eyJ0eXAi...&location=northeurope"
                         *           }
                         *         },
                         *         {
                         *           "status": 403,
                         *           "error": {
                         *             "code": "POLICY_DENIED",
                         *             "message": "The caller is not allowed this scope or id"
                         *           }
                         *         }
                         *       ]
                         *     }
                         */
                        "application/json": {
                            /**
                             * Format: uuid
                             * @description The batchId of this batch's audit records
                             */
                            batchId: string;
                            /** @description One per request, in request order */
                            results: ({
                                /** @enum {number} */
                                status: 200;
                                /** @description Restricted viewer access token for Video Indexer (a JWT, about 1 hour of life) */
                                accessToken: string;
                                /**
                                 * @description ARM's name of the token's scope
                                 * @enum {unknown}
                                 */
                                scope: "Account" | "Project" | "Video";
                                /** @description Present for Video scope */
                                videoId?: string;
                                /** @description Present for Project scope */
                                projectId?: string;
                                /** @description The Video Indexer account (its ARM resource name) */
                                accountName: string;
                                /**
                                 * Format: date-time
                                 * @description When the token expires (ISO-8601, UTC)
                                 */
                                expiresOn: string;
                                /** @description The account, once the broker has read it from Azure (absent until then) */
                                account?: {
                                    /** @description The account's alias in the broker (default without ACCOUNTS_FILE) */
                                    alias: string;
                                    /** @description Its ARM resource name */
                                    accountName: string;
                                    /** @description Its Video Indexer account id (properties.accountId), for embed URLs */
                                    accountId: string;
                                    /** @description Its region in lower case, as the widgets take it (e.g. northeurope) */
                                    location: string;
                                };
                                /** @description Video scope, once the account is read: the widget URLs (VI_WEB_BASE_URL/embed/...) */
                                embed?: {
                                    /** @description The player widget URL, with the token and location */
                                    player: string;
                                    /** @description The insights widget URL, with the token and location */
                                    insights: string;
                                };
                            } | {
                                /** @description The status the item's own request would have had */
                                status: number;
                                error: {
                                    /**
                                     * @description A code from the error catalogue: POLICY_DENIED, RATE_LIMITED, MINT_BUDGET_EXCEEDED, ARM_ERROR, ARM_THROTTLED, ARM_UNAVAILABLE, IDENTITY_UNAVAILABLE, ARM_TIMEOUT, INTERNAL_ERROR
                                     * @enum {unknown}
                                     */
                                    code: "POLICY_DENIED" | "RATE_LIMITED" | "MINT_BUDGET_EXCEEDED" | "ARM_ERROR" | "ARM_THROTTLED" | "ARM_UNAVAILABLE" | "IDENTITY_UNAVAILABLE" | "ARM_TIMEOUT" | "INTERNAL_ERROR";
                                    message: string;
                                    details?: {
                                        code: string;
                                        message: string;
                                    }[];
                                };
                                /** @description For 429 and 503 items: what the Retry-After header would have said */
                                retryAfterSeconds?: number;
                            })[];
                        };
                    };
                };
                /** @description The body is not a valid batch; the message names the first bad item. Codes: INVALID_BATCH, INVALID_REQUEST */
                400: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "INVALID_BATCH",
                         *         "message": "The batch is not valid: {problem}"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "INVALID_BATCH" | "INVALID_REQUEST";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description No valid caller JWT. Codes: AUTH_REQUIRED, AUTH_INVALID, AUTH_EXPIRED, AUTH_NO_CALLER */
                401: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        "www-authenticate"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "AUTH_REQUIRED",
                         *         "message": "A bearer token is required in the Authorization header"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "AUTH_REQUIRED" | "AUTH_INVALID" | "AUTH_EXPIRED" | "AUTH_NO_CALLER";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description No account of the broker has this alias. Codes: UNKNOWN_ACCOUNT */
                404: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "UNKNOWN_ACCOUNT",
                         *         "message": "No account has this alias: see the broker's ACCOUNTS_FILE"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "UNKNOWN_ACCOUNT";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description The body is larger than a batch of BATCH_MAX_ITEMS requests. Codes: BODY_TOO_LARGE */
                413: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "BODY_TOO_LARGE",
                         *         "message": "The request body is larger than a batch of BATCH_MAX_ITEMS requests"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "BODY_TOO_LARGE";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description The body is not application/json. Codes: UNSUPPORTED_MEDIA_TYPE */
                415: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "UNSUPPORTED_MEDIA_TYPE",
                         *         "message": "The request body must be application/json"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "UNSUPPORTED_MEDIA_TYPE";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description Over this caller's rate limit, or (for a token not cached) its mint budget, from the policy; retry after Retry-After seconds. Codes: RATE_LIMITED, MINT_BUDGET_EXCEEDED */
                429: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        /** @description Seconds to wait before retrying */
                        "retry-after"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "RATE_LIMITED",
                         *         "message": "Too many requests from this caller; retry later"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "RATE_LIMITED" | "MINT_BUDGET_EXCEEDED";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description The broker cannot verify callers, cannot audit or is overloaded; retry after Retry-After seconds. Codes: JWKS_UNAVAILABLE, AUDIT_UNAVAILABLE, OVERLOADED */
                503: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        /** @description Seconds to wait before retrying */
                        "retry-after"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "JWKS_UNAVAILABLE",
                         *         "message": "The signing keys for caller tokens could not be fetched; retry later"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "JWKS_UNAVAILABLE" | "AUDIT_UNAVAILABLE" | "OVERLOADED";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/cache": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Evict every cached token of the default account */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Evicted */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description How many cached copies were dropped: in this replica's memory or in Redis, whichever held more */
                            evicted: number;
                        };
                    };
                };
                /** @description No valid caller JWT. Codes: AUTH_REQUIRED, AUTH_INVALID, AUTH_EXPIRED, AUTH_NO_CALLER */
                401: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        "www-authenticate"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "AUTH_REQUIRED",
                         *         "message": "A bearer token is required in the Authorization header"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "AUTH_REQUIRED" | "AUTH_INVALID" | "AUTH_EXPIRED" | "AUTH_NO_CALLER";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description The caller is not marked admin in the policy. Codes: ADMIN_REQUIRED */
                403: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "ADMIN_REQUIRED",
                         *         "message": "Only a caller marked admin in the policy may evict cached tokens or read the status and policy explanations"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "ADMIN_REQUIRED";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description Evicted from this replica only: Redis could not be reached to evict across the fleet. Codes: EVICTION_INCOMPLETE */
                503: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        /** @description Seconds to wait before retrying */
                        "retry-after"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "EVICTION_INCOMPLETE",
                         *         "message": "The token was evicted from this replica, but Redis could not be reached to evict it across the fleet; retry"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "EVICTION_INCOMPLETE";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/cache/account": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Evict the cached Account token of the default account */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Evicted */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description How many cached copies were dropped: in this replica's memory or in Redis, whichever held more */
                            evicted: number;
                        };
                    };
                };
                /** @description No valid caller JWT. Codes: AUTH_REQUIRED, AUTH_INVALID, AUTH_EXPIRED, AUTH_NO_CALLER */
                401: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        "www-authenticate"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "AUTH_REQUIRED",
                         *         "message": "A bearer token is required in the Authorization header"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "AUTH_REQUIRED" | "AUTH_INVALID" | "AUTH_EXPIRED" | "AUTH_NO_CALLER";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description The caller is not marked admin in the policy. Codes: ADMIN_REQUIRED */
                403: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "ADMIN_REQUIRED",
                         *         "message": "Only a caller marked admin in the policy may evict cached tokens or read the status and policy explanations"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "ADMIN_REQUIRED";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description Evicted from this replica only: Redis could not be reached to evict across the fleet. Codes: EVICTION_INCOMPLETE */
                503: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        /** @description Seconds to wait before retrying */
                        "retry-after"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "EVICTION_INCOMPLETE",
                         *         "message": "The token was evicted from this replica, but Redis could not be reached to evict it across the fleet; retry"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "EVICTION_INCOMPLETE";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/cache/project/{projectId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Evict a cached Project token of the default account */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /**
                     * @description The Video Indexer project id
                     * @example 07ec9e38d4
                     */
                    projectId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Evicted */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description How many cached copies were dropped: in this replica's memory or in Redis, whichever held more */
                            evicted: number;
                        };
                    };
                };
                /** @description The id does not match ^[A-Za-z0-9_-]{1,64}$; checked before the policy and ARM. Codes: INVALID_ID */
                400: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "INVALID_ID",
                         *         "message": "The id must match ^[A-Za-z0-9_-]{1,64}$"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "INVALID_ID";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description No valid caller JWT. Codes: AUTH_REQUIRED, AUTH_INVALID, AUTH_EXPIRED, AUTH_NO_CALLER */
                401: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        "www-authenticate"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "AUTH_REQUIRED",
                         *         "message": "A bearer token is required in the Authorization header"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "AUTH_REQUIRED" | "AUTH_INVALID" | "AUTH_EXPIRED" | "AUTH_NO_CALLER";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description The caller is not marked admin in the policy. Codes: ADMIN_REQUIRED */
                403: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "ADMIN_REQUIRED",
                         *         "message": "Only a caller marked admin in the policy may evict cached tokens or read the status and policy explanations"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "ADMIN_REQUIRED";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description Evicted from this replica only: Redis could not be reached to evict across the fleet. Codes: EVICTION_INCOMPLETE */
                503: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        /** @description Seconds to wait before retrying */
                        "retry-after"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "EVICTION_INCOMPLETE",
                         *         "message": "The token was evicted from this replica, but Redis could not be reached to evict it across the fleet; retry"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "EVICTION_INCOMPLETE";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/cache/video/{videoId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Evict a cached Video token of the default account */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /**
                     * @description The Video Indexer video id
                     * @example 07ec9e38d4
                     */
                    videoId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Evicted */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description How many cached copies were dropped: in this replica's memory or in Redis, whichever held more */
                            evicted: number;
                        };
                    };
                };
                /** @description The id does not match ^[A-Za-z0-9_-]{1,64}$; checked before the policy and ARM. Codes: INVALID_ID */
                400: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "INVALID_ID",
                         *         "message": "The id must match ^[A-Za-z0-9_-]{1,64}$"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "INVALID_ID";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description No valid caller JWT. Codes: AUTH_REQUIRED, AUTH_INVALID, AUTH_EXPIRED, AUTH_NO_CALLER */
                401: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        "www-authenticate"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "AUTH_REQUIRED",
                         *         "message": "A bearer token is required in the Authorization header"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "AUTH_REQUIRED" | "AUTH_INVALID" | "AUTH_EXPIRED" | "AUTH_NO_CALLER";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description The caller is not marked admin in the policy. Codes: ADMIN_REQUIRED */
                403: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "ADMIN_REQUIRED",
                         *         "message": "Only a caller marked admin in the policy may evict cached tokens or read the status and policy explanations"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "ADMIN_REQUIRED";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description Evicted from this replica only: Redis could not be reached to evict across the fleet. Codes: EVICTION_INCOMPLETE */
                503: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        /** @description Seconds to wait before retrying */
                        "retry-after"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "EVICTION_INCOMPLETE",
                         *         "message": "The token was evicted from this replica, but Redis could not be reached to evict it across the fleet; retry"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "EVICTION_INCOMPLETE";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/accounts/{alias}/cache": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Evict every cached token of the account of this alias */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /**
                     * @description An account alias from the ACCOUNTS_FILE (^[a-z0-9][a-z0-9-]{0,62}$)
                     * @example eu-prod
                     */
                    alias: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Evicted */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description How many cached copies were dropped: in this replica's memory or in Redis, whichever held more */
                            evicted: number;
                        };
                    };
                };
                /** @description No valid caller JWT. Codes: AUTH_REQUIRED, AUTH_INVALID, AUTH_EXPIRED, AUTH_NO_CALLER */
                401: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        "www-authenticate"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "AUTH_REQUIRED",
                         *         "message": "A bearer token is required in the Authorization header"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "AUTH_REQUIRED" | "AUTH_INVALID" | "AUTH_EXPIRED" | "AUTH_NO_CALLER";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description The caller is not marked admin in the policy. Codes: ADMIN_REQUIRED */
                403: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "ADMIN_REQUIRED",
                         *         "message": "Only a caller marked admin in the policy may evict cached tokens or read the status and policy explanations"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "ADMIN_REQUIRED";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description No account of the broker has this alias. Codes: UNKNOWN_ACCOUNT */
                404: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "UNKNOWN_ACCOUNT",
                         *         "message": "No account has this alias: see the broker's ACCOUNTS_FILE"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "UNKNOWN_ACCOUNT";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description Evicted from this replica only: Redis could not be reached to evict across the fleet. Codes: EVICTION_INCOMPLETE */
                503: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        /** @description Seconds to wait before retrying */
                        "retry-after"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "EVICTION_INCOMPLETE",
                         *         "message": "The token was evicted from this replica, but Redis could not be reached to evict it across the fleet; retry"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "EVICTION_INCOMPLETE";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/accounts/{alias}/cache/account": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Evict the cached Account token of the account of this alias */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /**
                     * @description An account alias from the ACCOUNTS_FILE (^[a-z0-9][a-z0-9-]{0,62}$)
                     * @example eu-prod
                     */
                    alias: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Evicted */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description How many cached copies were dropped: in this replica's memory or in Redis, whichever held more */
                            evicted: number;
                        };
                    };
                };
                /** @description No valid caller JWT. Codes: AUTH_REQUIRED, AUTH_INVALID, AUTH_EXPIRED, AUTH_NO_CALLER */
                401: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        "www-authenticate"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "AUTH_REQUIRED",
                         *         "message": "A bearer token is required in the Authorization header"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "AUTH_REQUIRED" | "AUTH_INVALID" | "AUTH_EXPIRED" | "AUTH_NO_CALLER";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description The caller is not marked admin in the policy. Codes: ADMIN_REQUIRED */
                403: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "ADMIN_REQUIRED",
                         *         "message": "Only a caller marked admin in the policy may evict cached tokens or read the status and policy explanations"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "ADMIN_REQUIRED";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description No account of the broker has this alias. Codes: UNKNOWN_ACCOUNT */
                404: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "UNKNOWN_ACCOUNT",
                         *         "message": "No account has this alias: see the broker's ACCOUNTS_FILE"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "UNKNOWN_ACCOUNT";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description Evicted from this replica only: Redis could not be reached to evict across the fleet. Codes: EVICTION_INCOMPLETE */
                503: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        /** @description Seconds to wait before retrying */
                        "retry-after"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "EVICTION_INCOMPLETE",
                         *         "message": "The token was evicted from this replica, but Redis could not be reached to evict it across the fleet; retry"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "EVICTION_INCOMPLETE";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/accounts/{alias}/cache/project/{projectId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Evict a cached Project token of the account of this alias */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /**
                     * @description An account alias from the ACCOUNTS_FILE (^[a-z0-9][a-z0-9-]{0,62}$)
                     * @example eu-prod
                     */
                    alias: string;
                    /**
                     * @description The Video Indexer project id
                     * @example 07ec9e38d4
                     */
                    projectId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Evicted */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description How many cached copies were dropped: in this replica's memory or in Redis, whichever held more */
                            evicted: number;
                        };
                    };
                };
                /** @description The id does not match ^[A-Za-z0-9_-]{1,64}$; checked before the policy and ARM. Codes: INVALID_ID */
                400: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "INVALID_ID",
                         *         "message": "The id must match ^[A-Za-z0-9_-]{1,64}$"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "INVALID_ID";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description No valid caller JWT. Codes: AUTH_REQUIRED, AUTH_INVALID, AUTH_EXPIRED, AUTH_NO_CALLER */
                401: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        "www-authenticate"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "AUTH_REQUIRED",
                         *         "message": "A bearer token is required in the Authorization header"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "AUTH_REQUIRED" | "AUTH_INVALID" | "AUTH_EXPIRED" | "AUTH_NO_CALLER";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description The caller is not marked admin in the policy. Codes: ADMIN_REQUIRED */
                403: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "ADMIN_REQUIRED",
                         *         "message": "Only a caller marked admin in the policy may evict cached tokens or read the status and policy explanations"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "ADMIN_REQUIRED";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description No account of the broker has this alias. Codes: UNKNOWN_ACCOUNT */
                404: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "UNKNOWN_ACCOUNT",
                         *         "message": "No account has this alias: see the broker's ACCOUNTS_FILE"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "UNKNOWN_ACCOUNT";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description Evicted from this replica only: Redis could not be reached to evict across the fleet. Codes: EVICTION_INCOMPLETE */
                503: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        /** @description Seconds to wait before retrying */
                        "retry-after"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "EVICTION_INCOMPLETE",
                         *         "message": "The token was evicted from this replica, but Redis could not be reached to evict it across the fleet; retry"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "EVICTION_INCOMPLETE";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/accounts/{alias}/cache/video/{videoId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Evict a cached Video token of the account of this alias */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    /**
                     * @description An account alias from the ACCOUNTS_FILE (^[a-z0-9][a-z0-9-]{0,62}$)
                     * @example eu-prod
                     */
                    alias: string;
                    /**
                     * @description The Video Indexer video id
                     * @example 07ec9e38d4
                     */
                    videoId: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Evicted */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description How many cached copies were dropped: in this replica's memory or in Redis, whichever held more */
                            evicted: number;
                        };
                    };
                };
                /** @description The id does not match ^[A-Za-z0-9_-]{1,64}$; checked before the policy and ARM. Codes: INVALID_ID */
                400: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "INVALID_ID",
                         *         "message": "The id must match ^[A-Za-z0-9_-]{1,64}$"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "INVALID_ID";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description No valid caller JWT. Codes: AUTH_REQUIRED, AUTH_INVALID, AUTH_EXPIRED, AUTH_NO_CALLER */
                401: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        "www-authenticate"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "AUTH_REQUIRED",
                         *         "message": "A bearer token is required in the Authorization header"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "AUTH_REQUIRED" | "AUTH_INVALID" | "AUTH_EXPIRED" | "AUTH_NO_CALLER";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description The caller is not marked admin in the policy. Codes: ADMIN_REQUIRED */
                403: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "ADMIN_REQUIRED",
                         *         "message": "Only a caller marked admin in the policy may evict cached tokens or read the status and policy explanations"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "ADMIN_REQUIRED";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description No account of the broker has this alias. Codes: UNKNOWN_ACCOUNT */
                404: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "UNKNOWN_ACCOUNT",
                         *         "message": "No account has this alias: see the broker's ACCOUNTS_FILE"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "UNKNOWN_ACCOUNT";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description Evicted from this replica only: Redis could not be reached to evict across the fleet. Codes: EVICTION_INCOMPLETE */
                503: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        /** @description Seconds to wait before retrying */
                        "retry-after"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "EVICTION_INCOMPLETE",
                         *         "message": "The token was evicted from this replica, but Redis could not be reached to evict it across the fleet; retry"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "EVICTION_INCOMPLETE";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/status": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The broker's state
         * @description Version and uptime; the ARM token, budget and throttle hold of each identity; the Redis circuit; the policy in force; the caller key set; the cache. Never a secret or a token.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description The broker's state; never a secret or a token */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            version: string;
                            /** Format: date-time */
                            startedAt: string;
                            /** @description Seconds, to a tenth */
                            uptimeSeconds: number;
                            identities: {
                                /** @description The identity's client id, or default for the one identity */
                                id: string;
                                /** @description The identity's ARM token: its age and expiry (never the token); null before the first mint */
                                armToken: {
                                    /** @description Seconds, to a tenth */
                                    ageSeconds: number;
                                    /** Format: date-time */
                                    expiresOn: string;
                                } | null;
                                /** @description ARM's latest HTTP status to this identity (0: no answer) */
                                lastArmAnswer: {
                                    status: number;
                                    /** Format: date-time */
                                    at: string;
                                } | null;
                                /** @description x-ms-ratelimit-remaining-subscription-writes from its latest ARM answer */
                                remainingWrites: number | null;
                                /** @description How long its minting is still held after a 429 (0: none) */
                                throttleHoldSeconds: number;
                            }[];
                            armCallsInFlight: number;
                            redis: {
                                configured: boolean;
                                circuit: ("closed" | "open") | null;
                            };
                            policy: {
                                /** @description SHA-256 of the policy in force */
                                hash: string;
                                /** Format: date-time */
                                loadedAt: string;
                                callers: number;
                            };
                            /** @description The caller-token key set (JWKS mode): its age and key ids; null in HS256 mode */
                            jwks: {
                                ageSeconds: number | null;
                                keyIds: (string | null)[];
                            } | null;
                            /** @description Each account served, by alias */
                            accounts: {
                                alias: string;
                                accountName: string;
                                /** @description The account's id and location from Accounts_Get, and their age; null before the first read */
                                metadata: {
                                    accountId: string;
                                    location: string;
                                    /** @description Seconds, to a tenth */
                                    ageSeconds: number;
                                } | null;
                                /** @description Accounts_Get reads that failed in a row (retried with backoff) */
                                failedReads: number;
                            }[];
                            cache: {
                                entries: number;
                                /** @description Tokens served since start */
                                served: number;
                                /** @description Share served from the cache since start */
                                hitRatio: number | null;
                            };
                        };
                    };
                };
                /** @description No valid caller JWT. Codes: AUTH_REQUIRED, AUTH_INVALID, AUTH_EXPIRED, AUTH_NO_CALLER */
                401: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        "www-authenticate"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "AUTH_REQUIRED",
                         *         "message": "A bearer token is required in the Authorization header"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "AUTH_REQUIRED" | "AUTH_INVALID" | "AUTH_EXPIRED" | "AUTH_NO_CALLER";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description The caller is not marked admin in the policy. Codes: ADMIN_REQUIRED */
                403: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "ADMIN_REQUIRED",
                         *         "message": "Only a caller marked admin in the policy may evict cached tokens or read the status and policy explanations"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "ADMIN_REQUIRED";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/policy/explain": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Explain a policy decision
         * @description The decision the policy in force makes for a token request of this caller, scope, id and account, and its reason, without minting anything: check a policy change before a user meets it.
         */
        get: {
            parameters: {
                query: {
                    /** @description The caller id to check */
                    caller: string;
                    scope: "account" | "project" | "video";
                    /** @description The project or video id */
                    id?: string;
                    /** @description An account alias (or ARM name); default: the default account */
                    account?: string;
                    /** @description App roles the caller carries, comma-separated */
                    roles?: string;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description What the policy in force decides for such a request; nothing is minted */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @enum {unknown} */
                            decision: "allow" | "deny";
                            /** @description For allow, the JSON pointer of the rule that allows it; for deny, unknown_caller, scope_not_granted, id_not_listed or account_not_granted */
                            reason: string;
                        };
                    };
                };
                /** @description The query does not describe a request. Codes: INVALID_QUERY, MISSING_ID, UNEXPECTED_ID */
                400: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "INVALID_QUERY",
                         *         "message": "The query string is not valid: see the route in the OpenAPI document"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "INVALID_QUERY" | "MISSING_ID" | "UNEXPECTED_ID";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description No valid caller JWT. Codes: AUTH_REQUIRED, AUTH_INVALID, AUTH_EXPIRED, AUTH_NO_CALLER */
                401: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        "www-authenticate"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "AUTH_REQUIRED",
                         *         "message": "A bearer token is required in the Authorization header"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "AUTH_REQUIRED" | "AUTH_INVALID" | "AUTH_EXPIRED" | "AUTH_NO_CALLER";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
                /** @description The caller is not marked admin in the policy. Codes: ADMIN_REQUIRED */
                403: {
                    headers: {
                        /** @description The request id, for tracing; echoes a well-formed incoming x-request-id */
                        "x-request-id"?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        /**
                         * @example {
                         *       "error": {
                         *         "code": "ADMIN_REQUIRED",
                         *         "message": "Only a caller marked admin in the policy may evict cached tokens or read the status and policy explanations"
                         *       }
                         *     }
                         */
                        "application/json": {
                            error: {
                                /**
                                 * @description A stable code from the error catalogue (see ErrorCode)
                                 * @enum {unknown}
                                 */
                                code: "ADMIN_REQUIRED";
                                message: string;
                                /** @description Safe upstream facts, such as the error code ARM answered with */
                                details?: {
                                    code: string;
                                    message: string;
                                }[];
                            };
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        /**
         * @description The error catalogue. Every error body carries one of these codes.
         *
         *     - `AUTH_REQUIRED` (401): A bearer token is required in the Authorization header
         *     - `AUTH_INVALID` (401): The bearer token is not valid
         *     - `AUTH_EXPIRED` (401): The bearer token has expired
         *     - `AUTH_NO_CALLER` (401): The bearer token does not identify a caller
         *     - `POLICY_DENIED` (403): The caller is not allowed this scope or id
         *     - `ADMIN_REQUIRED` (403): Only a caller marked admin in the policy may evict cached tokens or read the status and policy explanations
         *     - `RATE_LIMITED` (429): Too many requests from this caller; retry later
         *     - `MINT_BUDGET_EXCEEDED` (429): This caller has used its policy's budget of new tokens; cached tokens are still served; retry later
         *     - `INVALID_REQUEST` (400): The request is not valid HTTP or its URL cannot be decoded
         *     - `HEADERS_TOO_LARGE` (431): The request has too many headers, or headers too large
         *     - `BODY_NOT_ALLOWED` (413): A GET or DELETE request takes no body
         *     - `BODY_TOO_LARGE` (413): The request body is larger than a batch of BATCH_MAX_ITEMS requests
         *     - `UNSUPPORTED_MEDIA_TYPE` (415): The request body must be application/json
         *     - `INVALID_BATCH` (400): The batch is not valid: {problem}
         *     - `REQUEST_TIMEOUT` (408): The request was not received in time
         *     - `INVALID_ID` (400): The id must match ^[A-Za-z0-9_-]{1,64}$
         *     - `INVALID_QUERY` (400): The query string is not valid: see the route in the OpenAPI document
         *     - `MISSING_ID` (400): This scope needs an id: /tokens/{scope}/{id}
         *     - `UNEXPECTED_ID` (400): Account scope takes no id: use /tokens/account
         *     - `UNKNOWN_SCOPE` (400): Unknown scope: use account, project or video
         *     - `NOT_FOUND` (404): No such route
         *     - `UNKNOWN_ACCOUNT` (404): No account has this alias: see the broker's ACCOUNTS_FILE
         *     - `INVALID_EMBED_OPTION` (400): The widget option {option} is unknown or its value is malformed: see the embed route in the OpenAPI document
         *     - `ACCOUNT_METADATA_PENDING` (503): The account's id and location have not been read from Azure yet, so no embed URL can be built; retry later
         *     - `ARM_ERROR` (502): Azure Resource Manager refused to issue the token
         *     - `ARM_THROTTLED` (503): Azure Resource Manager is throttling token requests; retry later
         *     - `ARM_UNAVAILABLE` (503): Azure Resource Manager could not be reached; retry later
         *     - `IDENTITY_UNAVAILABLE` (503): The broker could not obtain its managed identity token; retry later
         *     - `JWKS_UNAVAILABLE` (503): The signing keys for caller tokens could not be fetched; retry later
         *     - `ARM_TIMEOUT` (504): Azure Resource Manager did not answer in time
         *     - `AUDIT_UNAVAILABLE` (503): The audit record could not be written, so no token was issued; retry later
         *     - `EVICTION_INCOMPLETE` (503): The token was evicted from this replica, but Redis could not be reached to evict it across the fleet; retry
         *     - `OVERLOADED` (503): The broker is overloaded; retry shortly
         *     - `NOT_READY` (503): The broker is not ready to serve (starting or shutting down)
         *     - `INTERNAL_ERROR` (500): An unexpected error occurred
         * @enum {string}
         */
        ErrorCode: "AUTH_REQUIRED" | "AUTH_INVALID" | "AUTH_EXPIRED" | "AUTH_NO_CALLER" | "POLICY_DENIED" | "ADMIN_REQUIRED" | "RATE_LIMITED" | "MINT_BUDGET_EXCEEDED" | "INVALID_REQUEST" | "HEADERS_TOO_LARGE" | "BODY_NOT_ALLOWED" | "BODY_TOO_LARGE" | "UNSUPPORTED_MEDIA_TYPE" | "INVALID_BATCH" | "REQUEST_TIMEOUT" | "INVALID_ID" | "INVALID_QUERY" | "MISSING_ID" | "UNEXPECTED_ID" | "UNKNOWN_SCOPE" | "NOT_FOUND" | "UNKNOWN_ACCOUNT" | "INVALID_EMBED_OPTION" | "ACCOUNT_METADATA_PENDING" | "ARM_ERROR" | "ARM_THROTTLED" | "ARM_UNAVAILABLE" | "IDENTITY_UNAVAILABLE" | "JWKS_UNAVAILABLE" | "ARM_TIMEOUT" | "AUDIT_UNAVAILABLE" | "EVICTION_INCOMPLETE" | "OVERLOADED" | "NOT_READY" | "INTERNAL_ERROR";
    };
    responses: never;
    parameters: never;
    requestBodies: never;
    headers: never;
    pathItems: never;
}
export type $defs = Record<string, never>;
export type operations = Record<string, never>;
